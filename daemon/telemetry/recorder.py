"""Turn a finished request record into a ``GatewayRequestEvent`` with its costs and emit it.

Only prices and stores: breaker and session updates are the pipeline's (``compose.settle``),
which hands over the session's state as it was before the request and the request's
counterfactual (``SessionSnapshot``: the request as the other world's model would have billed it,
given that model's cache there; ``costs.counterfactual``). Savings are that counterfactual priced
against what was paid: projected in shadow mode, realised in live mode (the event's ``mode``
keeps them apart). The event, costs and savings included, is scheduled with
``loop.call_soon``: it is built after the handler has handed its response to the server, so cost
computation is not on the request's response path. It is built on the event loop, not on the
writer thread: Python work there competes for the GIL with the loop, which cost ~0.2 ms of CPU
per request at concurrency 32 in the benchmark. The writer's ``emit`` only enqueues. A
response-cache hit (``context.response_hit``) is recorded as served by ``"cache"`` at cost 0,
saving what the cached answer cost to produce. Costs are priced under the request's price
conditions (``context.price_conditions``, e.g. the 1M-context beta), and cache writes by lifetime.
The signals also keep what the backtest (``routing.backtest``) replays that is not a column: the
rule that fired, the prompt-cache identity and the price conditions. Usage beyond a physical
bound (``MAX_USAGE_TOKENS``, negative, not an integer) is clamped and marked estimated before
pricing (``sane_usage``), and a price that still overflows leaves the event unpriced.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.context import FallbackAttempt, RequestRecord
from ..core.ir import Usage
from ..costs.counterfactual import Counterfactual, MoveRef, assess
from ..costs.prices import PriceBook
from ..costs.savings import SavingsEstimate, estimate_live, estimate_shadow
from .events import EventStatus, GatewayRequestEvent, cache_status
from .writer import EventWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """The session memory as it was when the request finished (before it was updated), and the
    request's counterfactual from the prompt-cache book (None: no cache identity known; the
    estimate then falls back to ``premium_cached_tokens``, a bare per-session footprint)."""

    provider: str | None
    premium_cached_tokens: int = 0
    counterfactual: Counterfactual | None = None
    # The move this request's cache difference is owed to (a same-model request after a detour).
    owed_to: MoveRef | None = None


def _money(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):.4f}"


def _cache_words(usage: Usage) -> str:
    writes = usage.cache_write_tokens
    if usage.cache_read_tokens and not writes:
        return f"cache warm (reads {usage.cache_read_tokens:,})"
    if writes:
        return f"cache cold (writes {writes:,}, reads {usage.cache_read_tokens:,})"
    return "no cache"


def _task_facts(record: RequestRecord) -> dict[str, object]:
    """The task's routing verdicts (a start carries the candidates and their expected costs)."""
    task = record.context.task
    if task is None:
        return {}
    facts: dict[str, object] = {"task": dict(task.detail)}
    if task.fresh:
        facts["fresh_context"] = True
    if task.retry:
        facts["retry"] = True
    if task.tool_errors:
        facts["tool_errors"] = task.tool_errors
    if task.effort is not None:
        facts["effort_lowered"] = f"{task.effort_from} -> {task.effort}"
    if task.effort_saving_usd is not None:
        facts["effort_saving_usd"] = round(task.effort_saving_usd, 8)
    return facts


def _why(record: RequestRecord, est: SavingsEstimate | None, session: SessionSnapshot | None) -> str | None:
    """One line on what routing did or would do here and what it is worth (event detail, ``stats``)."""
    ctx = record.context
    if est is None or not est.priced or ctx.requested is None or not record.provider:
        return None
    served = (record.provider, record.upstream_model)
    other = session.counterfactual if session is not None else None
    there = f"; {_cache_words(other.usage)} there" if other is not None else ""
    owed = session.owed_to if session is not None else None
    earlier = f"owed to the move of {owed.request_id} to {owed.to[1]}" if owed else "from earlier moves"
    if ctx.mode == "live":
        if served != ctx.requested:
            return f"moved to {served[1]}: {_money(est.savings)} here vs {ctx.requested[1]}{there}"
        if abs(est.savings) >= 0.00005:
            return f"stayed on {served[1]}: {_money(est.savings)} {earlier} (its cache){there}"
        return None
    if ctx.would is not None and ctx.would != served:
        return f"live would move to {ctx.would[1]}: {_money(est.savings)} projected{there}"
    if abs(est.savings) >= 0.00005:
        return f"live would stay on {served[1]}: {_money(est.savings)} {earlier} (its cache){there}"
    return None


def _owed(session: SessionSnapshot | None) -> dict[str, object]:
    """The move a same-model request's cache difference is charged back to (``signals.owed_to``):
    per-class savings count it in the move's class (``telemetry.queries``)."""
    owed = session.owed_to if session is not None else None
    if owed is None:
        return {}
    move = {"event": owed.request_id, "route_class": owed.route_class, "to": f"{owed.to[0]}/{owed.to[1]}"}
    return {"owed_to": move}


def _savings(
    record: RequestRecord, prices: PriceBook, session: SessionSnapshot | None, usage: Usage
) -> SavingsEstimate | None:
    ctx = record.context
    served = (record.provider, record.upstream_model)
    requested, would = ctx.requested, ctx.would
    if not record.provider or requested is None:
        return None
    if session is not None and session.counterfactual is not None:
        return assess(prices, ctx.mode, served, usage, session.counterfactual, ctx.price_conditions)
    if ctx.mode == "live" and served != requested:
        cached = session.premium_cached_tokens if session else 0
        return estimate_live(
            prices,
            served,
            usage,
            requested,
            premium_cached_tokens=cached,
            conditions=ctx.price_conditions,
        )
    sticky = bool(session and would and session.provider == would[0])
    return estimate_shadow(
        prices, served, usage, would, sticky_to_would=sticky, conditions=ctx.price_conditions
    )


# The most tokens one request can physically bill in any one count (the largest context windows
# are ~10M tokens): a count beyond it, negative or not an integer is an upstream's nonsense.
MAX_USAGE_TOKENS = 100_000_000
_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)


def _sane_count(value: object) -> int | None:
    """``value`` when it is a plausible token count, else the count to use instead."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_USAGE_TOKENS:
        return None
    if isinstance(value, float) and math.isfinite(value):
        return max(0, min(MAX_USAGE_TOKENS, int(value)))
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(MAX_USAGE_TOKENS, value))
    return 0


def sane_usage(usage: Usage, request_id: str = "") -> Usage:
    """``usage`` itself when every count is a plausible token count; else a copy with each absurd
    count (beyond ``MAX_USAGE_TOKENS``, negative, not an integer) clamped into range and marked
    ``estimated``, with a warning. Prices and the event use it: one upstream's nonsense never
    breaks pricing nor puts a trillion-dollar row in the totals."""
    fixed = {
        name: count for name in _TOKEN_FIELDS if (count := _sane_count(getattr(usage, name))) is not None
    }
    if not fixed:
        return usage
    log.warning(
        "telemetry: %s: implausible upstream usage clamped (%s); marked estimated",
        request_id or "a request",
        ", ".join(f"{name}={str(getattr(usage, name))[:24]}" for name in fixed),
    )
    clean = Usage()
    clean.copy_from(usage)
    for name, count in fixed.items():
        setattr(clean, name, count)
    clean.cache_write_1h_tokens = min(clean.cache_write_1h_tokens, clean.cache_write_tokens)
    clean.estimated = True
    return clean


def _response_hit(event: GatewayRequestEvent, record: RequestRecord, prices: PriceBook) -> None:
    """A response-cache hit: nothing paid; it saved what the cached answer cost to produce."""
    origin = record.context.response_hit
    assert origin is not None
    usage = origin.usage or Usage()
    would = prices.cost(str(origin.provider), str(origin.model), usage, record.context.price_conditions)
    event.cache_status = "response_hit"
    event.cost_usd = 0.0
    event.would_provider, event.would_model = origin.provider, origin.model
    event.would_cost_usd = would.total if would.priced else None
    event.savings_usd = would.total if would.priced else None
    event.cost_estimated = would.estimated


def _replay_facts(record: RequestRecord) -> dict[str, object]:
    """What the backtest (``routing.backtest``) and a restart (``compose.restore``) need to replay
    the request and is not a column: the decision's rule, the prompt-cache identity, the price
    conditions and the number of input items of a Responses request (never the prompt)."""
    ctx = record.context
    facts: dict[str, object] = {}
    if ctx.history_items is not None:
        facts["history_items"] = ctx.history_items
    if ctx.decision is not None:
        facts["rule"] = ctx.decision.rule
    if ctx.cache_identity is not None:
        facts["cache_identity"] = ctx.cache_identity
    if ctx.price_conditions:
        facts["price_conditions"] = sorted(ctx.price_conditions)
    return facts


def build_event(
    record: RequestRecord,
    prices: PriceBook,
    session: SessionSnapshot | None = None,
    *,
    ts: float | None = None,
) -> GatewayRequestEvent:
    """The event of a finished ``record``; ``session``: its session's memory before it; ``ts``:
    when it finished by the recorder's clock (default: the record's finish time)."""
    ctx = record.context
    u = sane_usage(record.usage, record.request_id)
    try:
        est = _savings(record, prices, session, u)
    except (ArithmeticError, ValueError) as exc:  # a price or counterfactual out of range: unpriced
        log.warning("telemetry: %s: pricing failed (%s); recorded unpriced", record.request_id, exc)
        est = None
    decision = ctx.decision
    requested = ctx.requested or (None, None)
    would = ctx.would or (None, None)
    ok = record.status < 400 and record.error is None
    status: EventStatus = "client_closed" if record.status == 499 else ("ok" if ok else "error")
    if ctx.refusal is not None:
        status = "refused"
    event = GatewayRequestEvent(
        id=record.request_id,
        ts=ts if ts is not None else (record.finished_at if record.finished_at is not None else time.time()),
        client=ctx.client,
        protocol=record.protocol,
        session_id=ctx.session,
        repo=ctx.repo,
        branch=ctx.branch,
        route_class=decision.route_class if decision else None,
        confidence=decision.confidence if decision else None,
        signals={
            **(dict(decision.signals) if decision else {}),
            "plan_reasons": list(ctx.plan_reasons),
            **({"response_cache": ctx.response_cache} if ctx.response_cache is not None else {}),
            **({"why": why} if (why := _why(record, est, session)) else {}),
            **_replay_facts(record),
            **_owed(session),
            **_task_facts(record),
            **({"degrade": True} if ctx.degrade else {}),
        },
        mode=ctx.mode,
        requested_provider=requested[0],
        requested_model=requested[1],
        selected_provider=record.provider or None,
        selected_model=record.upstream_model or None,
        would_provider=would[0],
        would_model=would[1],
        fallback_chain=list(ctx.chain),
        prompt=ctx.prompt,
        status=status,
        http_status=record.status or None,
        error_class=ctx.refusal or record.error_kind,
        client_id=ctx.client_id,
        error_message=record.error,
        stream=record.stream,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cache_write_1h_tokens=u.cache_write_1h_tokens,
        reasoning_tokens=u.reasoning_tokens,
        usage_estimated=u.estimated,
        stop_reason=record.stop_reason,
        cost_usd=est.actual.total if est and est.actual.priced else None,
        would_cost_usd=est.counterfactual.total if est and est.counterfactual.priced else None,
        savings_usd=est.savings if est and est.priced else None,
        cost_estimated=bool(est and (est.actual.estimated or est.counterfactual.estimated)),
        latency_ms=round(record.latency_ms, 2),
        ttfb_ms=round(record.first_byte_ms, 2) if record.first_byte_ms is not None else None,
        cache_status=cache_status(u.cache_read_tokens, u.cache_write_tokens),
        task_id=ctx.task.task_id if ctx.task else None,
        decision_id=ctx.task.decision_id if ctx.task else None,
        holdout=bool(ctx.task and ctx.task.holdout),
    )
    if ctx.response_hit is not None:
        _response_hit(event, record, prices)
    return event


class Recorder:
    """Prices a finished record and hands its event to the writer (and the optional second sink,
    the OTLP exporter), just after the response."""

    def __init__(
        self,
        prices: PriceBook,
        writer: EventWriter | None,
        clock: Callable[[], float] | None = None,
        *,
        sink: Callable[[GatewayRequestEvent], None] | None = None,
    ) -> None:
        self.prices = prices
        self.writer = writer
        # A second consumer of every event besides the writer (the OTLP exporter's ``emit``):
        # called on the event loop, after the writer; must not block or raise.
        self.sink = sink
        self.failed = 0
        # Dates each event when set (a test hands in the fake upstream's clock, as it does to
        # ``CacheBook.clock``, so a backtest replays the idle gaps the caches saw); None: the
        # record's finish time.
        self.clock = clock

    def __call__(self, record: RequestRecord, session: SessionSnapshot | None = None) -> None:
        if self.writer is None and self.sink is None:
            return
        ts = self.clock() if self.clock is not None else None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop (a worker thread): build it now
            self._emit(record, session, ts)
            return
        loop.call_soon(self._emit, record, session, ts)

    def _emit(self, record: RequestRecord, session: SessionSnapshot | None, ts: float | None = None) -> None:
        try:
            event = build_event(record, self.prices, session, ts=ts)
        except Exception:  # one bad record never breaks serving or the next event
            self.failed += 1
            log.exception("telemetry: building the event of %s failed", record.request_id)
            return
        if self.writer is not None:
            self.writer.emit(event)
        if self.sink is not None:
            self.sink(event)


__all__ = ["MAX_USAGE_TOKENS", "FallbackAttempt", "Recorder", "SessionSnapshot", "build_event", "sane_usage"]
