"""Per-provider circuit breakers (closed / open / half-open) with an injectable clock.

Owns when a provider is considered unhealthy: it opens after ``failure_threshold`` consecutive
failures, or when at least ``min_calls`` of the last ``window`` calls were recorded and the
failure share reaches ``error_rate``. It stays open for ``cooldown`` seconds (or the upstream's
``retry-after`` when that is longer), then lets one probe through (half-open): success closes
it, failure re-opens it. A probe that never reports back is forgotten after one cooldown.
Which errors count is ``counts_as_failure``: upstream failures, except ``UpstreamRejected``
(a 4xx is the request's fault, not the provider's). Does not retry or sleep (the executor
does). Pure and synchronous; not thread-safe (call it from the event loop only).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..core.errors import UpstreamError, UpstreamRejected

BreakerState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]


def counts_as_failure(err: BaseException) -> bool:
    """True for upstream failures that say something about the provider's health."""
    return isinstance(err, UpstreamError) and not isinstance(err, UpstreamRejected)


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failure_threshold: int = 3
    window: int = 20
    min_calls: int = 10
    error_rate: float = 0.5
    cooldown: float = 30.0


class CircuitBreaker:
    def __init__(self, settings: BreakerSettings | None = None, *, clock: Clock = time.time) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._calls: deque[bool] = deque(maxlen=self.settings.window)  # True = success
        self._consecutive = 0
        self._state: BreakerState = "closed"
        self.opened_at: float | None = None
        self.retry_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self.retry_at is not None and self._clock() >= self.retry_at:
            self._state = "half_open"
            self._probe_started = None
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    @property
    def error_rate(self) -> float:
        if not self._calls:
            return 0.0
        return sum(1 for ok in self._calls if not ok) / len(self._calls)

    def allow(self) -> bool:
        """May a request go to this provider now? In half-open, only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self._clock()
        if self._probe_started is not None and now - self._probe_started < self.settings.cooldown:
            return False
        self._probe_started = now
        return True

    def record_success(self) -> None:
        self._consecutive = 0
        if self.state == "half_open":
            self._close()
            return
        self._calls.append(True)

    def record_failure(self, *, retry_after: float | None = None) -> None:
        self._consecutive += 1
        self._calls.append(False)
        state = self.state
        if state == "half_open":
            self._open(retry_after)
        elif state == "closed" and self._should_open():
            self._open(retry_after)
        elif state == "open" and retry_after is not None and self.retry_at is not None:
            self.retry_at = max(self.retry_at, self._clock() + retry_after)

    def _should_open(self) -> bool:
        s = self.settings
        if self._consecutive >= s.failure_threshold:
            return True
        return len(self._calls) >= s.min_calls and self.error_rate >= s.error_rate

    def _open(self, retry_after: float | None) -> None:
        now = self._clock()
        self._state = "open"
        self.opened_at = now
        self.retry_at = now + max(self.settings.cooldown, retry_after or 0.0)
        self._probe_started = None

    def _close(self) -> None:
        self._state = "closed"
        self._calls.clear()
        self._consecutive = 0
        self.opened_at = None
        self.retry_at = None
        self._probe_started = None

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self.state,
            "failures": self._consecutive,
            "calls": len(self._calls),
            "error_rate": round(self.error_rate, 3),
            "opened_at": self.opened_at,
            "retry_at": self.retry_at,
        }


class BreakerBoard:
    """One breaker per provider, created on first use."""

    def __init__(self, settings: BreakerSettings | None = None, *, clock: Clock = time.time) -> None:
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, provider: str) -> CircuitBreaker:
        found = self._breakers.get(provider)
        if found is None:
            found = self._breakers[provider] = CircuitBreaker(self.settings, clock=self._clock)
        return found

    def allow(self, provider: str) -> bool:
        return self.breaker(provider).allow()

    def healthy(self, provider: str) -> bool:
        """Not open (a half-open provider is worth planning on: it may take the probe).

        Unlike ``allow`` this never claims the half-open probe, so the policy can call it freely.
        """
        return self.breaker(provider).state != "open"

    def record_success(self, provider: str) -> None:
        self.breaker(provider).record_success()

    def record_failure(self, provider: str, *, retry_after: float | None = None) -> None:
        self.breaker(provider).record_failure(retry_after=retry_after)

    def record(self, provider: str, err: BaseException | None) -> None:
        """Record an outcome: None is a success; errors count only per ``counts_as_failure``."""
        if err is None:
            self.record_success(provider)
        elif counts_as_failure(err):
            self.record_failure(provider, retry_after=getattr(err, "retry_after", None))

    def state(self, provider: str) -> BreakerState:
        return self.breaker(provider).state

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {name: b.snapshot() for name, b in sorted(self._breakers.items())}
