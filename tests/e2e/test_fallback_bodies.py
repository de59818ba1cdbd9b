"""Every fallback candidate gets its own request body and output limit.

A cheap candidate whose output limit makes the plan clamp ``max_tokens`` fails with a retryable
529; the fallback to the requested model must send the client's own ``max_tokens`` and its body
byte for byte, in pass-through (Anthropic → Anthropic) and translated (Chat → Anthropic) alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

CHEAP = "claude-haiku-5-5"
PREMIUM = "claude-opus-5-5"
CLIENT_MAX_TOKENS = 32_000
CHEAP_LIMIT = 8_192
SUMMARY = "Please summarize this paragraph: the gateway routes cheap turns to cheap providers."


@pytest.fixture
def gw(fake_upstream: FakeUpstream) -> Iterator[GatewayThread]:
    fake_upstream.reset()
    config = Config(
        mode="live",
        routes={"summary": (f"anthropic/{CHEAP}", "requested")},
        # The cheap model's output limit is below the client's max_tokens: the plan clamps it.
        models={f"anthropic/{CHEAP}": {"max_output": CHEAP_LIMIT}},
    )
    gateway = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    yield gateway
    gateway.stop()


def _events(gw: GatewayThread) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers={"x-api-key": GATEWAY_KEY}, timeout=5).json()[
            "events"
        ]
        if rows:
            return list(rows)
        time.sleep(0.05)
    raise AssertionError("no event recorded")


def test_passthrough_fallback_sends_the_clients_own_body(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    body = {
        "model": PREMIUM,
        "max_tokens": CLIENT_MAX_TOKENS,
        # A marker of the client's own: the gateway adds no cache hints, so no edit is due.
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": SUMMARY}],
    }
    raw = json.dumps(body).encode()
    fake_upstream.fail_next(529, path="/v1/messages")
    r = httpx.post(
        f"{gw.url}/v1/messages",
        content=raw,
        headers={
            "x-api-key": GATEWAY_KEY,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "user-agent": "claude-cli/2.1.330 (external)",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    cheap, premium = fake_upstream.calls("/v1/messages")
    first = cheap.body
    assert (first["model"], first["max_tokens"]) == (CHEAP, CHEAP_LIMIT)
    # The requested model gets exactly what the client sent: its max_tokens, its bytes.
    assert premium.raw == raw
    assert premium.body["max_tokens"] == CLIENT_MAX_TOKENS
    (ev,) = _events(gw)
    assert [(a["model"], a["status"], a["error"]) for a in ev["fallback_chain"]] == [
        (CHEAP, "error", "overloaded"),
        (PREMIUM, "ok", None),
    ]


def test_translated_fallback_keeps_the_clients_max_tokens(
    gw: GatewayThread, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.fail_next(529, path="/v1/messages")
    r = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={
            "model": PREMIUM,
            "max_tokens": CLIENT_MAX_TOKENS,
            "messages": [{"role": "user", "content": SUMMARY}],
        },
        headers={"authorization": f"Bearer {GATEWAY_KEY}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    cheap, premium = (c.body for c in fake_upstream.calls("/v1/messages"))
    assert (cheap["model"], cheap["max_tokens"]) == (CHEAP, CHEAP_LIMIT)
    assert (premium["model"], premium["max_tokens"]) == (PREMIUM, CLIENT_MAX_TOKENS)
