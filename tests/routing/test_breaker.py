"""Circuit breakers with a fake clock."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core import errors as e
from stackbilt_gateway.daemon.routing.breaker import (
    BreakerBoard,
    BreakerSettings,
    CircuitBreaker,
    counts_as_failure,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_three_consecutive_failures_then_half_opens_after_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(clock=clock)
    b.record_failure()
    b.record_failure()
    assert b.state == "closed" and b.allow()
    b.record_failure()
    assert b.snapshot()["state"] == "open" and not b.allow()
    assert (b.opened_at, b.retry_at) == (1_000.0, 1_030.0)
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.1
    assert b.snapshot()["state"] == "half_open"
    assert b.allow()  # the probe
    assert not b.allow()  # only one probe at a time
    b.record_success()
    assert b.state == "closed" and b.allow() and b.consecutive_failures == 0


def test_a_success_resets_the_consecutive_count() -> None:
    b = CircuitBreaker(BreakerSettings(min_calls=1_000), clock=Clock())  # error rate out of play
    for _ in range(5):
        b.record_failure()
        b.record_failure()
        b.record_success()
    assert b.state == "closed"


def test_error_rate_over_the_window_opens() -> None:
    b = CircuitBreaker(clock=Clock())
    for _ in range(3):  # F F S: never 3 in a row, 2/3 failure rate
        b.record_failure()
        b.record_failure()
        b.record_success()
    # 9 calls (6 failures): still closed, fewer than min_calls
    assert b.snapshot()["calls"] == 9 and b.state == "closed"
    b.record_failure()
    assert b.snapshot()["state"] == "open"
    assert b.snapshot()["error_rate"] == 0.7


def test_error_rate_below_half_stays_closed() -> None:
    b = CircuitBreaker(clock=Clock())
    for _ in range(10):
        b.record_failure()
        b.record_success()
        b.record_success()
    assert b.state == "closed" and b.error_rate < 0.5


def test_retry_after_longer_than_cooldown_is_honoured() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerSettings(failure_threshold=1), clock=clock)
    b.record_failure(retry_after=120)
    assert b.retry_at == 1_120.0
    clock.now += 60
    assert not b.allow()
    clock.now += 60
    assert b.allow()


def test_shorter_retry_after_keeps_the_cooldown() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=1), clock=Clock())
    b.record_failure(retry_after=2)
    assert b.retry_at == 1_030.0


def test_failed_probe_reopens() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerSettings(failure_threshold=1), clock=clock)
    b.record_failure()
    clock.now += 30
    assert b.allow()
    b.record_failure()
    assert b.state == "open" and b.retry_at == 1_060.0


def test_a_probe_that_never_reports_is_forgotten_after_a_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(BreakerSettings(failure_threshold=1), clock=clock)
    b.record_failure()
    clock.now += 30
    assert b.allow() and not b.allow()
    clock.now += 30
    assert b.allow()


@pytest.mark.parametrize(
    ("err", "counts"),
    [
        (e.RateLimited("x"), True),
        (e.UpstreamOverloaded("x"), True),
        (e.UpstreamTimeout("x"), True),
        (e.UpstreamUnavailable("x"), True),
        (e.UpstreamProtocolError("x"), True),
        (e.UpstreamServerError("x", status=503), True),
        (e.UpstreamRejected("x", status=400), False),
        (e.InvalidRequest("x"), False),
        (e.AuthenticationFailed("x"), False),
        (ValueError("x"), False),
    ],
)
def test_counts_as_failure(err: BaseException, counts: bool) -> None:
    assert counts_as_failure(err) is counts


def test_board_tracks_providers_separately_and_snapshots() -> None:
    clock = Clock()
    board = BreakerBoard(clock=clock)
    for _ in range(3):
        board.record("groq", e.UpstreamServerError("boom", status=500))
    board.record("groq", e.UpstreamRejected("bad request"))  # not counted
    board.record("anthropic", None)
    assert not board.allow("groq") and board.allow("anthropic") and board.allow("cerebras")
    assert not board.healthy("groq") and board.healthy("anthropic")
    snap = board.snapshot()
    assert list(snap) == ["anthropic", "cerebras", "groq"]
    assert snap["groq"] == {
        "state": "open",
        "failures": 3,
        "calls": 3,
        "error_rate": 1.0,
        "opened_at": 1_000.0,
        "retry_at": 1_030.0,
    }
    assert snap["anthropic"]["state"] == "closed"
    board.record("groq", e.RateLimited("slow down", retry_after=90))
    assert board.breaker("groq").retry_at == 1_090.0
    clock.now += 90
    assert board.healthy("groq") and board.state("groq") == "half_open"
