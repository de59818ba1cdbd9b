"""Per-client rate limits in memory: requests per minute, tokens per minute, concurrent requests.

``rpm`` is a smooth rate (GCRA): one request every ``60/rpm`` seconds, with bursts of up to
``rpm/60`` (at least one) — so a refused client is told to retry in about ``60/rpm`` seconds, not
in a minute. ``tpm`` is a bucket of ``tpm`` tokens refilled at ``tpm/60`` per second; admission
charges the request's estimated prompt plus its ``max_tokens`` (at most one full bucket) and the
charge is corrected by the real usage when the answer ends (``release``). ``concurrency`` counts
requests in flight. A refused request consumes nothing.

State is kept per client id in an LRU bounded by ``max_ids`` (idle ids are evicted first, and ids
idle longer than ``idle_seconds`` are dropped as new ones arrive): any number of distinct client
ids leaves memory bounded. An evicted id starts afresh (its limits are only as old as its state).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..core.config import ClientSettings
from .errors import ClientRateLimited

DEFAULT_MAX_IDS = 4096
# How far from the front the LRU looks for an idle id to evict before evicting the oldest anyway.
_EVICT_SCAN = 64


@dataclass(slots=True)
class _State:
    # GCRA: the theoretical arrival time of the next request.
    tat: float = 0.0
    tokens: float = 0.0
    tokens_at: float = 0.0
    inflight: int = 0
    touched: float = 0.0


@dataclass(slots=True)
class Ticket:
    client_id: str
    charged: int
    released: bool = False


class RateLimiter:
    def __init__(
        self,
        *,
        max_ids: int = DEFAULT_MAX_IDS,
        idle_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_ids = max_ids
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._states: OrderedDict[str, _State] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def _state(self, client_id: str, limits: ClientSettings, now: float) -> _State:
        state = self._states.get(client_id)
        if state is None:
            state = _State(tat=now, tokens=float(limits.tpm or 0), tokens_at=now, touched=now)
            self._states[client_id] = state
            self._evict(now)
        else:
            self._states.move_to_end(client_id)
        return state

    def _evict(self, now: float) -> None:
        states = self._states
        while states:  # expire ids idle past idle_seconds (oldest first)
            oldest_id, oldest = next(iter(states.items()))
            if oldest.inflight or now - oldest.touched < self.idle_seconds:
                break
            del states[oldest_id]
        while len(states) > self.max_ids:
            victim = next(iter(states))
            for i, (cid, st) in enumerate(states.items()):
                if i >= _EVICT_SCAN:
                    break
                if st.inflight == 0:
                    victim = cid
                    break
            del states[victim]

    def admit(self, client_id: str, limits: ClientSettings, tokens: int) -> Ticket:
        """Admit one request charging ``tokens`` or raise ``ClientRateLimited`` (nothing consumed)."""
        now = self.clock()
        state = self._state(client_id, limits, now)
        state.touched = now
        charge = min(max(tokens, 0), limits.tpm) if limits.tpm else 0
        if limits.concurrency is not None and state.inflight >= limits.concurrency:
            raise ClientRateLimited(
                f"Concurrent request limit ({limits.concurrency}) exceeded for client_id {client_id}",
                rule="rate_limit.concurrency",
                retry_after=1.0,
            )
        tat = max(state.tat, now)
        if limits.rpm is not None:
            interval = 60.0 / limits.rpm
            tolerance = interval * (max(1, limits.rpm // 60) - 1)
            if tat - now > tolerance + 1e-9:
                raise ClientRateLimited(
                    f"Request rate exceeded for client_id {client_id}",
                    rule="rate_limit.rpm",
                    retry_after=max(0.001, tat - tolerance - now),
                )
        if limits.tpm is not None:
            rate = limits.tpm / 60.0
            state.tokens = min(float(limits.tpm), state.tokens + (now - state.tokens_at) * rate)
            state.tokens_at = now
            if state.tokens < charge:
                raise ClientRateLimited(
                    f"Token rate exceeded for client_id {client_id}",
                    rule="rate_limit.tpm",
                    retry_after=math.ceil((charge - state.tokens) / rate),
                )
            state.tokens -= charge
        if limits.rpm is not None:
            state.tat = tat + 60.0 / limits.rpm
        state.inflight += 1
        return Ticket(client_id, charge)

    def release(self, ticket: Ticket, used_tokens: int | None, limits: ClientSettings) -> None:
        """The request ended: free its slot and replace its token charge by ``used_tokens``."""
        if ticket.released:
            return
        ticket.released = True
        state = self._states.get(ticket.client_id)
        if state is None:  # evicted meanwhile: its fresh state owes nothing
            return
        state.inflight = max(0, state.inflight - 1)
        if limits.tpm is not None and used_tokens is not None:
            state.tokens = min(float(limits.tpm), state.tokens + ticket.charged - used_tokens)
