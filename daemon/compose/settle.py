"""What happens when a request's record is finished: routing state first, then telemetry.

``Settle`` is every record's ``on_finish`` hook (set by the pipeline and the compaction calls).
It captures the session's memory as it was, advances the prompt-cache book of the request's
cache identity in both worlds (``costs.counterfactual.step``: what the upstream billed, and the
request in the world that did not happen — the savings estimate prices that counterfactual),
hands a stream's outcome to its provider's circuit breaker (a failure after the first byte is
the upstream's too; a client hanging up is nobody's), updates the session's stickiness (cache
hits and the gateway's own calls never move it), and then hands the record to the telemetry
recorder, which only prices and stores.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.context import RequestRecord
from ..core.ir import Usage
from ..costs.cache_state import marks_of
from ..costs.counterfactual import other_model
from ..costs.prices import cost_of
from ..routing.runtime import Advanced, Router
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
        if ctx.admission is not None:  # governance: free the slot, correct tokens, add the cost
            ctx.admission.release(record)
        state = self.router.sessions.get(ctx.session)
        advanced = self._caches(record)
        counterfactual = advanced.counterfactual if advanced is not None else None
        session = (
            SessionSnapshot(
                state.provider if state else None,
                counterfactual=counterfactual,
                owed_to=advanced.owed_to if advanced is not None else None,
            )
            if state or counterfactual
            else None
        )
        if ctx.streaming and record.provider and record.status != 499 and ctx.response_hit is None:
            if record.error_kind in MIDSTREAM_FAILURES:
                self.router.breakers.record_failure(record.provider)
            elif record.error_kind is None:
                self.router.breakers.record_success(record.provider)
        if record.status < 400 and record.provider and ctx.sticky and ctx.response_hit is None:
            self.router.sessions.remember(ctx.session, record.provider)
        self._task(record)
        if self.recorder is not None:
            self.recorder(record, session)

    def _task(self, record: RequestRecord) -> None:
        """The task follows the model that really served it (live mode: a fallback moves it);
        the session's task shape learns the request's prompt and output."""
        ctx = record.context
        task, identity = ctx.task, ctx.cache_identity
        if task is None or identity is None or not record.provider or record.status >= 400:
            return
        tasks = self.router.tasks
        if ctx.mode == "live":
            served = (record.provider, record.upstream_model)
            tasks.served(identity, task.task_id, served)
            if ctx.history_items is not None:
                tasks.produced(identity, ctx.history_items, served)
        usage = record.usage
        tasks.observe(ctx.session, usage.total_input_tokens, usage.output_tokens, identity)
        served = (record.provider, record.upstream_model)
        if task.effort is None:
            tasks.note_output(served, usage.output_tokens)
        elif (average := tasks.average_output(served)) is not None:
            saved = max(0, round(average) - usage.output_tokens)
            price = self.router.prices.get(*served)
            task.effort_saving_usd = cost_of(price, Usage(output_tokens=saved), ctx.price_conditions).total

    def _caches(self, record: RequestRecord) -> Advanced | None:
        """Advance both worlds' caches of the request's identity; its counterfactual and the move
        it owes its cache difference to (None: nothing reached an upstream, or no identity)."""
        ctx = record.context
        identity = ctx.cache_identity
        if identity is None or not record.provider or ctx.response_hit is not None:
            return None
        if record.status >= 400 and record.status != 499:
            return None
        served = (record.provider, record.upstream_model)
        other = other_model(ctx.mode, served, ctx.requested, ctx.would)
        book = self.router.caches
        marks = marks_of(ctx.decision.signals.get("cache_marks")) if ctx.decision is not None else ()
        decision = ctx.decision
        return book.advance(
            ctx.mode,
            identity,
            served,
            other,
            record.usage,
            book.clock(),
            marks,
            request_id=record.request_id,
            route_class=decision.route_class if decision is not None else None,
        )
