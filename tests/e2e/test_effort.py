"""Same-model savings: ``routing.effort`` lowers the reasoning effort of the classes the user marks
cheap, for the whole task, on the model the client asked for; other tasks keep theirs, and a
request that set no effort gets none added. Live mode only; shadow mode records what it would do."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config, RoutingSettings
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import Buckets, reference_cost
from tests.e2e.conftest import upstream_env
from tests.e2e.test_cost_truth import add_tool_round, capture, filler
from tests.e2e.test_projection_truth import summary_ask
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

OPUS = "claude-opus-4-6"
SESSION = "effort-session-2"  # outside the 10 % holdout
CHEAP = RoutingSettings(effort={"cheap_edit": "low"})


def _send(gw: GatewayThread, headers: dict[str, str], body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{gw.url}/v1/messages",
        content=json.dumps(body).encode(),
        headers={
            **headers,
            "x-api-key": GATEWAY_KEY,
            "x-claude-code-session-id": SESSION,
            "content-type": "application/json",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]


def _session(gw: GatewayThread) -> None:
    headers, main = capture("claude-code", "messages_tool_result_turn2.json")
    main["model"] = OPUS
    _send(gw, headers, main)  # task 1: fallback_safe, effort as asked
    main = summary_ask(main, "Rename the helper to parse_since and fix the import in cli.py.")
    _send(gw, headers, main)  # task 2: cheap_edit
    main = add_tool_round(main, 7, filler("edit", 300), None)
    _send(gw, headers, main)  # task 2's tool round
    main = summary_ask(main, "Now write a design doc for the retry loop.")
    _send(gw, headers, main)  # task 3: planning, effort as asked


def _events(gw: GatewayThread, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers={"x-api-key": GATEWAY_KEY}, timeout=5).json()[
            "events"
        ]
        if len(rows) >= n:
            break
        time.sleep(0.05)
    return sorted(rows, key=lambda e: e["ts"])


@pytest.mark.parametrize("mode", ["live", "shadow"])
def test_cheap_tasks_run_at_a_lower_effort_on_the_same_model(fake_upstream: FakeUpstream, mode: str) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=Config(mode=mode, routing=CHEAP)).start()
    try:
        _session(gw)
        calls = fake_upstream.calls("/v1/messages")
        events = _events(gw, 4)
        httpx_summary = httpx.get(
            f"{gw.url}/metrics/summary", headers={"x-api-key": GATEWAY_KEY}, timeout=5
        ).json()
    finally:
        gw.stop()
    sent = [c.body.get("output_config", {}).get("effort") for c in calls]
    assert [c.body["model"] for c in calls] == [OPUS] * 4
    classes = [e["route_class"] for e in events]
    assert (
        classes[1] == "cheap_edit"
        and classes[2] == "tool_loop"
        and events[1]["task_id"] == events[2]["task_id"]
    )
    if mode == "live":
        assert sent == ["medium", "low", "low", "medium"], sent
        assert [e["signals"].get("effort_lowered") for e in events] == [
            None,
            "medium -> low",
            "medium -> low",
            None,
        ]
        # Its own kind of saving: the model's output at the client's effort (17 tokens a request
        # from this fake) minus what the lowered answers said (5), priced by the reference.
        said = [e["output_tokens"] for e in events]
        assert said == [17, 5, 5, 17], said
        per_request = reference_cost("anthropic", OPUS, Buckets(output=17 - 5))
        saved = [e["signals"].get("effort_saving_usd") for e in events]
        assert saved[0] is None and saved[3] is None
        assert saved[1] == pytest.approx(per_request, rel=1e-6) and saved[2] == pytest.approx(
            per_request, rel=1e-6
        )
        assert httpx_summary["savings_effort_usd"] == pytest.approx(2 * per_request, rel=1e-6)
    else:
        assert sent == ["medium"] * 4, sent
        assert events[1]["signals"]["task"]["effort"] == "medium -> low (live mode)"
        assert all("effort_lowered" not in e["signals"] for e in events)
        assert httpx_summary["savings_effort_usd"] == 0


def test_no_effort_is_added_where_the_client_set_none(fake_upstream: FakeUpstream) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=Config(mode="live", routing=CHEAP)).start()
    try:
        headers, main = capture("claude-code", "messages_tool_result_turn2.json")
        main["model"] = OPUS
        main.pop("output_config", None)
        main = summary_ask(main, "Rename the helper to parse_since.")
        _send(gw, headers, main)
        (call,) = fake_upstream.calls("/v1/messages")
    finally:
        gw.stop()
    assert "output_config" not in call.body
