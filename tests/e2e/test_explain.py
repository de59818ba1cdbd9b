"""``stackbilt-gw explain``: a recorded event's routing story, and a dry run of a request on stdin,
against a real daemon process in live mode (the captured Claude Code title and subagent requests)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.control.gatewaykey import load_or_create_gateway_key
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.cli.conftest import free_port, paths, run_cli, stopped_daemon
from tests.e2e.conftest import upstream_env
from tests.e2e.test_cost_truth import capture
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

__all__ = ["free_port", "paths", "stopped_daemon"]  # fixtures of the CLI tests, used below

OPUS = "claude-opus-4-6"


def _events(port: int, key: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"http://127.0.0.1:{port}/events/recent", headers={"x-api-key": key}, timeout=5
        ).json()["events"]
        if len(rows) >= n:
            break
        time.sleep(0.1)
    return rows


def test_explain_tells_the_routing_story_of_an_event_and_of_a_request(
    stopped_daemon: Paths, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeUpstream().start()
    try:
        for name, value in upstream_env(fake).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        assert run_cli("start", "--port", str(free_port)).returncode == 0
        key, _ = load_or_create_gateway_key(stopped_daemon, dict(os.environ))
        assert run_cli("mode", "live").returncode == 0
        session = "explain-session-2"  # not in the 10 % holdout
        headers, main = capture("claude-code", "messages_tool_turn1.json")
        sub_headers, sub = capture("claude-code", "messages_subagent_first_turn.json")
        for body in (main, sub):
            body["model"] = OPUS
        for h, body in ((headers, main), (sub_headers, sub)):
            r = httpx.post(
                f"http://127.0.0.1:{free_port}/v1/messages",
                content=json.dumps(body).encode(),
                headers={
                    **h,
                    "x-api-key": key,
                    "x-claude-code-session-id": session,
                    "content-type": "application/json",
                },
                timeout=30,
            )
            assert r.status_code == 200, r.text[:300]
        events = _events(free_port, key, 2)
        subagent = next(e for e in events if e["selected_model"] != OPUS)
        assert subagent["selected_model"] == "claude-sonnet-4-6"

        text = run_cli("explain", subagent["id"])
        assert text.returncode == 0, text.stderr
        assert "fresh context: subagent run" in text.stdout
        assert "lane target: anthropic/claude-sonnet-4-6" in text.stdout
        assert "candidate anthropic/claude-sonnet-4-6: taken: saves $" in text.stdout
        as_json = json.loads(run_cli("explain", subagent["id"], "--json").stdout)
        assert (
            as_json["task"]["candidates"][0]["expected_cost"]
            < as_json["task"]["candidates"][0]["expected_cost_requested"]
        )

        # A dry run of the subagent's first turn again: the same verdict, and nothing remembered.
        payload = json.dumps(
            {
                "protocol": "anthropic",
                "headers": {**sub_headers, "x-claude-code-session-id": session},
                "body": sub,
            }
        )
        dry = run_cli("explain", "-", "--json", input=payload)
        assert dry.returncode == 0, dry.stderr
        story = json.loads(dry.stdout)
        assert (
            story["would_serve"] == "anthropic/claude-sonnet-4-6"
            and story["task"]["fresh_context"] == "subagent run"
        )
        raw = run_cli("explain", "-", input=json.dumps(main))  # a bare body: the protocol is detected
        assert raw.returncode == 0 and "dry run (live mode)" in raw.stdout, raw.stderr
        assert len(fake.calls("/v1/messages")) == 2, "a dry run sends nothing upstream"

        missing = run_cli("explain", "no-such-event")
        assert missing.returncode == 1 and "no recorded event no-such-event" in missing.stderr
        bad = run_cli("explain", "-", input="{not json")
        assert bad.returncode == 2 and "not JSON" in bad.stderr
    finally:
        run_cli("stop")
        fake.stop()


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        (b"{not json", None),
        (b'{"protocol": "gemini", "body": {}}', "protocol"),
        (b'{"protocol": "anthropic", "body": []}', "body"),
        (
            b'{"protocol": "anthropic", "body": {"model": "x", "messages": []}, "headers": {"a": 1}}',
            "headers",
        ),
        (b'{"protocol": "anthropic", "body": {"model": 7, "messages": "nope"}}', None),
    ],
)
def test_explain_refuses_bad_input_with_a_400(
    upstream: FakeUpstream, payload: bytes, param: str | None
) -> None:
    gw = GatewayThread(env=upstream_env(upstream)).start()
    try:
        r = httpx.post(
            f"{gw.url}/explain",
            content=payload,
            headers={"x-api-key": GATEWAY_KEY, "content-type": "application/json"},
            timeout=10,
        )
        missing = httpx.get(f"{gw.url}/explain/no-such-event", headers={"x-api-key": GATEWAY_KEY}, timeout=10)
    finally:
        gw.stop()
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert param in error["message"]
    assert missing.status_code == 404 and "no-such-event" in missing.json()["error"]["message"]
    assert upstream.calls("/v1/messages") == []  # reset for this test: nothing of its own went up
