"""The per-client rate limiter: rpm as a smooth rate, tpm charged and corrected, concurrency, and
memory bounded however many client ids arrive."""

from __future__ import annotations

import tracemalloc

import pytest

from stackbilt_gateway.daemon.core.config import ClientSettings
from stackbilt_gateway.daemon.governance.errors import ClientRateLimited
from stackbilt_gateway.daemon.governance.limiter import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_refuses_with_a_short_retry_after_and_admits_after_it() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limits = ClientSettings(rpm=30)  # one request every 2 s
    limiter.admit("dev", limits, 0)
    with pytest.raises(ClientRateLimited) as info:
        limiter.admit("dev", limits, 0)
    assert info.value.rule == "rate_limit.rpm"
    assert info.value.status == 429
    assert info.value.message == "Request rate exceeded for client_id dev"
    assert info.value.retry_after == pytest.approx(2.0)
    clock.now += 2.0
    limiter.admit("dev", limits, 0)
    # A refused request consumed nothing: the next slot is still exactly 2 s later.
    with pytest.raises(ClientRateLimited):
        limiter.admit("dev", limits, 0)
    clock.now += 1.0
    with pytest.raises(ClientRateLimited) as again:
        limiter.admit("dev", limits, 0)
    assert again.value.retry_after == pytest.approx(1.0)


def test_rpm_of_high_limits_allows_a_burst_of_a_seconds_worth() -> None:
    limiter = RateLimiter(clock=Clock())
    limits = ClientSettings(rpm=600)  # 10 per second
    for _ in range(10):
        limiter.admit("dev", limits, 0)
    with pytest.raises(ClientRateLimited):
        limiter.admit("dev", limits, 0)


def test_clients_do_not_share_limits() -> None:
    limiter = RateLimiter(clock=Clock())
    limits = ClientSettings(rpm=1)
    limiter.admit("a", limits, 0)
    limiter.admit("b", limits, 0)
    with pytest.raises(ClientRateLimited):
        limiter.admit("a", limits, 0)


def test_tpm_charges_the_estimate_and_is_corrected_by_real_usage() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limits = ClientSettings(tpm=1000)
    ticket = limiter.admit("dev", limits, 900)  # estimate + max_tokens
    with pytest.raises(ClientRateLimited) as info:
        limiter.admit("dev", limits, 200)
    assert info.value.rule == "rate_limit.tpm"
    assert info.value.message == "Token rate exceeded for client_id dev"
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    limiter.release(ticket, 100, limits)  # it really used 100: 800 come back
    limiter.admit("dev", limits, 800)


def test_concurrency_counts_requests_in_flight() -> None:
    limiter = RateLimiter(clock=Clock())
    limits = ClientSettings(concurrency=2)
    first = limiter.admit("dev", limits, 0)
    limiter.admit("dev", limits, 0)
    with pytest.raises(ClientRateLimited) as info:
        limiter.admit("dev", limits, 0)
    assert info.value.rule == "rate_limit.concurrency"
    limiter.release(first, 0, limits)
    limiter.release(first, 0, limits)  # released once only
    limiter.admit("dev", limits, 0)
    with pytest.raises(ClientRateLimited):
        limiter.admit("dev", limits, 0)


def _growth(limiter: RateLimiter, clock: Clock, limits: ClientSettings) -> int:
    for i in range(1000):
        limiter.release(limiter.admit(f"warm-{i:05d}", limits, 10), 10, limits)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(10_000):
        limiter.release(limiter.admit(f"client-{i:05d}", limits, 10), 10, limits)
        clock.now += 0.001
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return grown


def test_ten_thousand_client_ids_leave_memory_bounded() -> None:
    limits = ClientSettings(rpm=60, tpm=10_000, concurrency=4)
    clock = Clock()
    limiter = RateLimiter(max_ids=1000, clock=clock)
    bounded = _growth(limiter, clock, limits)
    assert len(limiter) == 1000
    unbounded = _growth(RateLimiter(max_ids=100_000, clock=Clock()), Clock(), limits)
    assert unbounded > 1_000_000  # what keeping every id would cost
    assert bounded < unbounded / 5, (bounded, unbounded)
    # Ids in flight are evicted last; the table never grows past its bound.
    held = limiter.admit("held", limits, 0)
    for i in range(2000):
        limiter.admit(f"more-{i}", limits, 0)
    assert len(limiter) <= 1000
    limiter.release(held, 0, limits)


def test_idle_ids_expire() -> None:
    clock = Clock()
    limiter = RateLimiter(idle_seconds=60, clock=clock)
    limits = ClientSettings(rpm=60)
    for i in range(100):
        limiter.release(limiter.admit(f"c{i}", limits, 0), 0, limits)
    clock.now += 61
    limiter.admit("new", limits, 0)
    assert len(limiter) == 1
