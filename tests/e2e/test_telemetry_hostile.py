"""Telemetry against hostile upstreams, through the real gateway: a usage number beyond SQLite's
64-bit integers (stored clamped, totals still add up) and an error message with a lone surrogate
each still leave one row per request, and the requests after them are recorded too; a writer
whose thread is gone turns ``/health`` to ``degraded`` with the reason; writes that fail are
counted in ``/metrics``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config, TelemetrySettings
from stackbilt_gateway.daemon.simulator.markers import MarkerScript
from stackbilt_gateway.daemon.simulator.reply import Call, Reply
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from stackbilt_gateway.daemon.telemetry.recorder import MAX_USAGE_TOKENS
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
HUGE = 10**20  # beyond SQLite's INTEGER (2**63 - 1)
LONE_SURROGATE = "\ud800"


@dataclass
class HugeUsageScript(MarkerScript):
    """The markers script, but a turn saying ``HUGE_USAGE`` is billed 10**20 input tokens."""

    def reply(self, call: Call) -> Reply:
        reply = super().reply(call)
        if "HUGE_USAGE" in str(call.body.get("messages")):
            reply.usage = {**reply.usage, "input_tokens": HUGE}
        return reply


@pytest.fixture(scope="module")
def hostile_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream(script=HugeUsageScript()).start()
    yield fake
    fake.stop()


def start_gateway(upstream: FakeUpstream, db: Path) -> GatewayThread:
    config = Config(telemetry=TelemetrySettings(db_path=db))
    return GatewayThread(env=upstream_env(upstream), config=config).start()


@pytest.fixture
def gw(hostile_upstream: FakeUpstream, tmp_path: Path) -> Iterator[GatewayThread]:
    hostile_upstream.reset()
    gateway = start_gateway(hostile_upstream, tmp_path / "telemetry.sqlite")
    yield gateway
    gateway.stop()


def ask(gw: GatewayThread, text: str, *, stream: bool = False) -> httpx.Response:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    return httpx.post(f"{gw.url}/v1/messages", json=body, headers=AUTH, timeout=10)


def get(gw: GatewayThread, path: str, **params: str) -> Any:
    response = httpx.get(f"{gw.url}{path}", params=params, headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def events(gw: GatewayThread, n: int) -> list[dict[str, Any]]:
    """The ``n`` recorded events once there are ``n`` (fails after 10 s with fewer)."""
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = get(gw, "/events/recent", limit="500")["events"]
        if len(rows) >= n:
            break
        time.sleep(0.05)
    assert len(rows) == n, f"expected {n} events, found {len(rows)}"
    return rows


def writer_counters(gw: GatewayThread) -> dict[str, Any]:
    return dict(get(gw, "/metrics", by="provider")["telemetry"])


def test_a_usage_beyond_64_bits_is_stored_clamped_and_the_writer_carries_on(gw: GatewayThread) -> None:
    # Streamed: the pass-through tap reads the usage as a Python int (10**20, not a float).
    huge = ask(gw, "HUGE_USAGE please", stream=True)
    assert huge.status_code == 200 and str(HUGE) in huge.text
    assert ask(gw, "an ordinary turn afterwards", stream=True).status_code == 200
    rows = events(gw, 2)
    tokens = sorted(row["input_tokens"] for row in rows)
    assert tokens == [120, MAX_USAGE_TOKENS]  # capped before pricing (telemetry.recorder)
    assert get(gw, "/metrics")["totals"]["input_tokens"] == 120 + MAX_USAGE_TOKENS  # totals still add up
    assert get(gw, "/health")["status"] == "ok"
    counters = writer_counters(gw)
    assert (counters["written"], counters["failed"], counters["dropped"]) == (2, 0, 0)


def test_a_lone_surrogate_in_concurrent_errors_loses_no_row(
    gw: GatewayThread, hostile_upstream: FakeUpstream
) -> None:
    n = 31
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": f"bad {LONE_SURROGATE} input"},
    }
    hostile_upstream.fail_next(400, body, times=n)
    with ThreadPoolExecutor(max_workers=n) as pool:
        statuses = list(pool.map(lambda i: ask(gw, f"turn {i}").status_code, range(n)))
    assert statuses == [400] * n
    assert ask(gw, "a later, healthy request").status_code == 200
    rows = events(gw, n + 1)
    failed = [row for row in rows if row["status"] == "error"]
    assert len(failed) == n
    assert all(LONE_SURROGATE not in (row["error_message"] or "") for row in failed)
    assert any("\ufffd" in (row["error_message"] or "") for row in failed), failed[0]["error_message"]
    counters = writer_counters(gw)
    assert (counters["written"], counters["failed"], counters["dropped"]) == (n + 1, 0, 0)


def test_health_is_degraded_with_the_reason_when_the_writer_thread_is_gone(
    hostile_upstream: FakeUpstream, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    gateway = start_gateway(hostile_upstream, blocker / "telemetry.sqlite")
    try:
        deadline = time.monotonic() + 10
        while (health := get(gateway, "/health"))["status"] == "ok" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert health["status"] == "degraded" and health["degraded"] is True
        (reason,) = health["reasons"]
        assert reason.startswith("telemetry writer stopped")
        assert ask(gateway, "still served").status_code == 200  # serving does not depend on it
        assert writer_counters(gateway)["problem"].startswith("telemetry writer stopped")
    finally:
        gateway.stop()


def test_writes_that_fail_are_counted_in_metrics(gw: GatewayThread, tmp_path: Path) -> None:
    assert ask(gw, "first").status_code == 200
    events(gw, 1)
    # Another process holds the database's write lock past the writer's busy timeout (5 s).
    blocker = sqlite3.connect(tmp_path / "telemetry.sqlite", timeout=5, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        assert ask(gw, "second").status_code == 200
        assert ask(gw, "third").status_code == 200
        deadline = time.monotonic() + 15
        while (counters := writer_counters(gw))["failed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (counters["written"], counters["failed"], counters["dropped"]) == (1, 2, 0)
    assert ask(gw, "fourth").status_code == 200  # the writer survived the failure
    assert len(events(gw, 2)) == 2
    prometheus = httpx.get(f"{gw.url}/metrics/prometheus", headers=AUTH, timeout=5).text
    assert 'stackbilt_telemetry_events_total{outcome="failed"} 2' in prometheus
