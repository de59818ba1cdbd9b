"""Every request that reached the pipeline leaves exactly one telemetry event, whatever its fate:
a client that gives up before the first byte (499), and a request that ends in an unexpected
exception (500, ``internal``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.markers import MarkerScript
from stackbilt_gateway.daemon.simulator.reply import Wire
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env, wait_events
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
BODY = {"model": "claude-opus-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


class SlowHead(MarkerScript):
    """The upstream takes its time before the response head."""

    def latency(self, wire: Wire) -> float:
        return 1.5


@pytest.fixture
def slow() -> Iterator[tuple[GatewayThread, FakeUpstream]]:
    fake = FakeUpstream(script=SlowHead()).start()
    gw = GatewayThread(env=upstream_env(fake)).start()
    yield gw, fake
    gw.stop()
    fake.stop()


def test_a_client_that_gives_up_before_the_first_byte_is_recorded(
    slow: tuple[GatewayThread, FakeUpstream],
) -> None:
    gw, fake = slow
    for stream in (False, True):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{gw.url}/v1/messages", json={**BODY, "stream": stream}, headers=AUTH, timeout=0.3)
    rows = wait_events(gw, 2, AUTH)
    assert len(fake.requests) == 2
    assert [(r["status"], r["http_status"]) for r in rows] == [("client_closed", 499)] * 2
    assert all(r["selected_provider"] == "anthropic" for r in rows)


def test_an_unexpected_exception_is_a_500_and_an_event(
    fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    try:
        from stackbilt_gateway.daemon.routing.runtime import Router

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug in planning")

        monkeypatch.setattr(Router, "decide", broken)
        r = httpx.post(f"{gw.url}/v1/messages", json=BODY, headers=AUTH, timeout=5)
        assert r.status_code == 500 and r.json()["error"]["type"] == "api_error"
        monkeypatch.undo()
        (row,) = wait_events(gw, 1, AUTH)
        assert row["status"] == "error" and row["http_status"] == 500 and row["error_class"] == "internal"
        assert not fake_upstream.requests
    finally:
        gw.stop()
