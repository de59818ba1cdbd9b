"""Every routed (or would-be routed) event says in one line what routing did or would do and what
it is worth, with the same number as the event's savings."""

from __future__ import annotations

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env, wait_events
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01", "x-claude-code-session-id": "s-why"}
SUMMARY = "Please summarize this paragraph: the gateway routes cheap turns to cheap providers."


@pytest.mark.parametrize("mode", ["shadow", "live"])
def test_the_why_line_names_the_move_and_its_worth(fake_upstream: FakeUpstream, mode: str) -> None:
    fake_upstream.reset()
    config = Config(mode=mode, routes={"summary": ("anthropic/claude-haiku-4-5", "requested")})
    gw = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    try:
        body = {
            "model": "claude-opus-5-5",
            "max_tokens": 300,
            "messages": [{"role": "user", "content": SUMMARY}],
        }
        assert httpx.post(f"{gw.url}/v1/messages", json=body, headers=AUTH, timeout=10).status_code == 200
        (event,) = wait_events(gw, 1, AUTH)
    finally:
        gw.stop()
    why = event["signals"]["why"]
    savings = event["savings_usd"]
    amount = f"{'+' if savings >= 0 else '-'}${abs(savings):.4f}"
    if mode == "shadow":
        assert event["selected_model"] == "claude-opus-5-5"
        assert why.startswith(f"live would move to claude-haiku-4-5: {amount} projected")
    else:
        assert event["selected_model"] == "claude-haiku-4-5"
        assert why.startswith(f"moved to claude-haiku-4-5: {amount} here vs claude-opus-5-5")
