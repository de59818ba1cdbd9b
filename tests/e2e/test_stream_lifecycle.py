"""Streams and the server's lifecycle: client disconnects cancel the upstream request, and a
graceful shutdown lets an in-flight stream finish."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {"x-api-key": GATEWAY_KEY}


def slow_body(model: str) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "SLOW please answer"}],
    }


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("model", ["claude-opus-5-5", "groq/llama-3.3-70b-versatile"])
def test_client_disconnect_cancels_upstream(
    gateway: GatewayThread, upstream: FakeUpstream, model: str
) -> None:
    before = upstream.closed_streams
    with httpx.stream(
        "POST", f"{gateway.url}/v1/messages", json=slow_body(model), headers=AUTH, timeout=10
    ) as r:
        assert r.status_code == 200
        next(r.iter_raw())  # the stream has started
    # The client hung up mid-stream: the gateway must close its upstream request too.
    assert wait_for(lambda: upstream.closed_streams > before), "upstream stream was not cancelled"


@pytest.mark.parametrize("model", ["claude-opus-5-5", "groq/llama-3.3-70b-versatile"])
def test_graceful_shutdown_drains_in_flight_stream(fake_upstream: FakeUpstream, model: str) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    result: dict[str, object] = {}

    def consume() -> None:
        with httpx.stream(
            "POST", f"{gw.url}/v1/messages", json=slow_body(model), headers=AUTH, timeout=20
        ) as r:
            result["text"] = r.read().decode()

    t = threading.Thread(target=consume)
    t.start()
    assert wait_for(lambda: fake_upstream.requests), "request reached the upstream"
    time.sleep(0.2)
    gw.stop()  # shutdown while the stream is still running
    t.join(20)
    text = str(result.get("text", ""))
    assert "event: message_stop" in text, text[-500:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gw.url}/health", timeout=2)
