"""The price condition end to end: the client's ``anthropic-beta`` header reaches the request
context (``pipeline.serve``) and the recorder prices the event under it.

A config price for the served model with a tier that needs the 1M-context beta from the first
token (input x3, output x10) makes the condition visible on any request. The expected cost is
computed by hand from the event's own token counts and the rates written here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

M = 1_000_000
MODEL = "claude-opus-5-5"
# input 4, output 20, read 0.4, 5-minute write 5, 1-hour write 8; with the beta: x3 input (and
# the cache rates with it), x10 output.
PRICE = {
    "input_per_mtok": 4,
    "output_per_mtok": 20,
    "cached_input_per_mtok": 0.4,
    "cache_write_5m_per_mtok": 5,
    "cache_write_1h_per_mtok": 8,
    "tiers": [
        {
            "above_input_tokens": 0,
            "requires": "anthropic-beta:context-1m",
            "input_multiplier": 3,
            "output_multiplier": 10,
        }
    ],
}
AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01", "user-agent": "claude-cli/2.1.330"}


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayThread]:
    fake = FakeUpstream().start()
    env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-fake-upstream-key"}
    gateway = GatewayThread(env=env, config=Config(prices={f"anthropic/{MODEL}": PRICE})).start()
    yield gateway
    gateway.stop()
    fake.stop()


def _event(gw: GatewayThread, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers=AUTH, timeout=5).json()["events"]
        for row in rows:
            if row["id"] == request_id:
                return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no event for {request_id}")


def _cost(ev: dict[str, Any], scale_in: float, scale_out: float) -> float:
    one_hour = ev["cache_write_1h_tokens"]
    five_min = ev["cache_write_tokens"] - one_hour
    return (
        ev["input_tokens"] * 4 * scale_in
        + five_min * 5 * scale_in
        + one_hour * 8 * scale_in
        + ev["cache_read_tokens"] * 0.4 * scale_in
        + ev["output_tokens"] * 20 * scale_out
    ) / M


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("beta", "scales"),
    [
        ("claude-code-20250219,context-1m-2025-08-07", (3, 10)),
        ("claude-code-20250219,interleaved-thinking-2025-05-14", (1, 1)),
        (None, (1, 1)),
    ],
)
def test_the_beta_header_prices_the_event(
    gw: GatewayThread, stream: bool, beta: str | None, scales: tuple[float, float]
) -> None:
    headers = {**AUTH, **({"anthropic-beta": beta} if beta else {})}
    body = {
        "model": MODEL,
        "max_tokens": 50,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    r = httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers, timeout=10)
    assert r.status_code == 200
    ev = _event(gw, r.headers["x-stackbilt-request-id"])
    assert ev["selected_model"] == MODEL and ev["output_tokens"] > 0
    assert ev["cost_usd"] == pytest.approx(_cost(ev, *scales))
    assert ev["cost_usd"] > 0
