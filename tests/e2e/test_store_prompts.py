"""``telemetry.store_prompts``: off by default (no prompt is kept); on, each event keeps the latest
user turn's text, redacted before it is written."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config, TelemetrySettings
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
PROMPT = "Fix the login bug. My token=ghp_SECRETsecretSECRETsecret1234 and password=hunter2hunter"


def _one_event(gw: GatewayThread) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers=AUTH, timeout=5).json()["events"]
        if rows:
            return dict(rows[0])
        time.sleep(0.05)
    raise AssertionError("no event recorded")


@pytest.mark.parametrize("store", [False, True])
def test_prompts_are_kept_only_when_asked_and_always_redacted(
    fake_upstream: FakeUpstream, store: bool
) -> None:
    fake_upstream.reset()
    config = Config(telemetry=TelemetrySettings(store_prompts=store))
    gw = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    try:
        body = {
            "model": "claude-opus-5-5",
            "max_tokens": 50,
            "messages": [
                {"role": "user", "content": "an earlier turn"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": PROMPT},
            ],
        }
        assert httpx.post(f"{gw.url}/v1/messages", json=body, headers=AUTH, timeout=10).status_code == 200
        event = _one_event(gw)
    finally:
        gw.stop()
    if not store:
        assert event.get("prompt") is None
        return
    prompt = event["prompt"]
    assert prompt.startswith("Fix the login bug.") and "earlier turn" not in prompt
    assert "ghp_SECRET" not in prompt and "hunter2" not in prompt and "***" in prompt
