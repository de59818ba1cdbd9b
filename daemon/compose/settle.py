"""What happens when a request's record is finished: routing state first, then telemetry.

``Settle`` is every record's ``on_finish`` hook (set by the pipeline and the compaction calls).
It captures the session's memory as it was (the savings estimate needs it), hands a stream's
outcome to its provider's circuit breaker (a failure after the first byte is the upstream's too;
a client hanging up is nobody's), updates the session's stickiness (cache hits and the gateway's
own calls never move it), and then hands the record to the telemetry recorder, which only prices
and stores.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.context import RequestRecord
from ..routing.runtime import Router
from ..telemetry.recorder import SessionSnapshot

# Error kinds that, after a stream started, are the upstream's fault (not the client's).
MIDSTREAM_FAILURES = frozenset(
    {
        "upstream_unavailable",
        "upstream_timeout",
        "upstream_protocol",
        "upstream_server",
        "overloaded",
        "rate_limited",
    }
)

RecordSink = Callable[[RequestRecord, SessionSnapshot | None], None]


class Settle:
    """A finished record's effects on routing state, then telemetry (module docstring)."""

    def __init__(self, router: Router, recorder: RecordSink | None) -> None:
        self.router = router
        self.recorder = recorder

    def __call__(self, record: RequestRecord) -> None:
        ctx = record.context
        state = self.router.sessions.get(ctx.session)
        session = SessionSnapshot(state.provider, state.premium_cached_tokens) if state else None
        if ctx.streaming and record.provider and record.status != 499 and ctx.response_hit is None:
            if record.error_kind in MIDSTREAM_FAILURES:
                self.router.breakers.record_failure(record.provider)
            elif record.error_kind is None:
                self.router.breakers.record_success(record.provider)
        if record.status < 400 and record.provider and ctx.sticky and ctx.response_hit is None:
            premium = None
            if ctx.requested and (record.provider, record.upstream_model) == ctx.requested:
                premium = record.usage.cache_read_tokens + record.usage.cache_write_tokens
            self.router.sessions.remember(ctx.session, record.provider, premium)
        if self.recorder is not None:
            self.recorder(record, session)
