"""The real gateway against a hostile upstream whose answers have a success status but are not
answers (``simulator.hostile``), for each of the three client protocols.

* A broken proxy's HTML page with status 200 is never relayed as if it were the answer: the client
  gets 502 in its own protocol's error shape (kind ``upstream_protocol``), whether it asked for
  JSON or for a stream, and the request is recorded as an error event.
* A stream whose usage says 10**20 input tokens and -7 output tokens still reaches the client
  whole; its event exists, holds counts clamped into range, is marked ``usage_estimated`` and is
  priced to a finite cost (pass-through and translated alike); the telemetry writer loses nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.hostile import HostileUpstream
from stackbilt_gateway.daemon.telemetry.recorder import MAX_USAGE_TOKENS
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

SECONDS = 30.0


@dataclass(frozen=True)
class Route:
    protocol: str  # "anthropic" | "chat" | "responses"
    model: str

    @property
    def path(self) -> str:
        return {"anthropic": "/v1/messages", "chat": "/v1/chat/completions", "responses": "/v1/responses"}[
            self.protocol
        ]

    def headers(self) -> dict[str, str]:
        if self.protocol == "anthropic":
            return {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
        return {"authorization": f"Bearer {GATEWAY_KEY}"}

    def body(self, scenario: str, *, stream: bool) -> dict[str, object]:
        text = f"please HOSTILE_{scenario.upper()} now"
        if self.protocol == "responses":
            return {"model": self.model, "stream": stream, "input": text, "max_output_tokens": 64}
        return {
            "model": self.model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }


ANTHROPIC_PASS = Route("anthropic", "claude-opus-5-5")
CHAT_PASS = Route("chat", "groq/llama-3.3-70b-versatile")
RESPONSES_PASS = Route("responses", "gpt-5.5")
ANTHROPIC_TO_CHAT = Route("anthropic", "groq/llama-3.3-70b-versatile")
PASS_ROUTES = [ANTHROPIC_PASS, CHAT_PASS, RESPONSES_PASS]


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayThread]:
    upstream = HostileUpstream().start()
    env = {
        "STACKBILT_ANTHROPIC_BASE_URL": upstream.url,
        "STACKBILT_GROQ_BASE_URL": upstream.url + "/v1",
        "STACKBILT_OPENAI_BASE_URL": upstream.url + "/v1",
        "ANTHROPIC_API_KEY": "sk-ant-hostile-test-key",
        "GROQ_API_KEY": "gsk-hostile-test-key",
        "OPENAI_API_KEY": "sk-openai-hostile-test-key",
    }
    gateway = GatewayThread(env=env).start()
    yield gateway
    gateway.stop()
    upstream.stop()


def rows_for(gw: GatewayThread, ids: list[str]) -> dict[str, dict[str, object]]:
    """The telemetry rows of ``ids``, waiting (bounded) for the writer; exactly one per request."""
    deadline = time.monotonic() + 10
    found: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{gw.url}/events/recent", params={"limit": 1000}, headers={"x-api-key": GATEWAY_KEY}, timeout=5
        ).json()["events"]
        found = [row for row in rows if row["id"] in ids]
        if {row["id"] for row in found} == set(ids):
            break
        time.sleep(0.05)
    assert sorted(str(row["id"]) for row in found) == sorted(ids), "one telemetry row per request"
    return {str(row["id"]): row for row in found}


@pytest.mark.parametrize("route", PASS_ROUTES, ids=lambda r: r.protocol)
def test_an_html_page_with_status_200_is_a_protocol_error_not_an_answer(
    gw: GatewayThread, route: Route
) -> None:
    ids = []
    for streaming in (False, True):
        r = httpx.post(
            gw.url + route.path,
            json=route.body("html_200", stream=streaming),
            headers=route.headers(),
            timeout=SECONDS,
        )
        ids.append(r.headers["x-stackbilt-request-id"])
        assert r.status_code == 502, r.text[:300]
        assert r.headers["content-type"].startswith("application/json")
        assert b"<html" not in r.content
        payload = r.json()
        if route.protocol == "anthropic":
            assert payload["type"] == "error" and set(payload["error"]) == {"type", "message"}
        else:
            assert set(payload["error"]) >= {"message", "type"}
        message = payload["error"]["message"]
        assert "HTTP 200 with a body that is not its answer (text/html): 502 Bad Gateway" in message, message
    rows = rows_for(gw, ids)
    assert {(row["status"], row["http_status"], row["error_class"]) for row in rows.values()} == {
        ("error", 502, "upstream_protocol")
    }


@pytest.mark.parametrize(
    "route", [*PASS_ROUTES, ANTHROPIC_TO_CHAT], ids=["anthropic", "chat", "responses", "translated"]
)
def test_absurd_usage_is_clamped_and_flagged_and_the_client_still_gets_its_answer(
    gw: GatewayThread, route: Route
) -> None:
    with httpx.stream(
        "POST",
        gw.url + route.path,
        json=route.body("usage_overflow", stream=True),
        headers=route.headers(),
        timeout=SECONDS,
    ) as r:
        raw = r.read().decode()
        request_id = r.headers["x-stackbilt-request-id"]
    assert r.status_code == 200
    assert "an answer with absurd usage" in raw
    assert '"error"' not in raw.replace('"error":null', "")
    row = rows_for(gw, [request_id])[request_id]
    assert row["status"] == "ok"
    assert row["usage_estimated"] is True
    if route is ANTHROPIC_TO_CHAT:  # the Chat decoder keeps no input count it cannot trust
        assert 0 <= row["input_tokens"] <= MAX_USAGE_TOKENS  # type: ignore[operator]
    else:
        assert row["input_tokens"] == MAX_USAGE_TOKENS  # 10**20 clamped to the physical bound
    assert row["output_tokens"] == 0  # -7 clamped
    cost = row["cost_usd"]
    assert isinstance(cost, float) and math.isfinite(cost)
    assert cost > 0 or route is ANTHROPIC_TO_CHAT  # priced at the bound (translated: nothing left)
    metrics = httpx.get(f"{gw.url}/metrics", headers={"x-api-key": GATEWAY_KEY}, timeout=5).json()
    assert (metrics["telemetry"]["failed"], metrics["telemetry"]["unrecorded"]) == (0, 0)
