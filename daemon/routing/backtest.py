"""The backtest: recorded events replayed through a route table, with the prompt-cache model.

Owns reading recorded events for a replay (``load``: the one read of the telemetry database here,
run in a worker thread), turning a stored row into a ``Recorded`` request (``recorded``), and the
pure replay (``replay``). For every request, in the order it finished:

- the planner (``policy.plan``, live mode, every provider healthy) picks where the route table
  sends it, from what the event recorded: route class, confidence, rule, signals (estimated
  tokens, tools, images, thinking, ``max_tokens``), requested model, client; the simulated
  world's session stickiness is the replay's own;
- the cache model (``costs.counterfactual.step``) re-bills the request on that model given its
  cache in the simulated world, while the world that happened advances from the usage the
  upstream billed (per cache identity and model, with the recorded timestamps, so lifetimes and
  idle gaps count) — the same counterfactual shadow projections use;
- both sides are priced (``costs.prices.cost_of``, under the request's price conditions).

The report gives per session and per route class the actual spend, the simulated spend, the
savings (actual - simulated), moves taken (the table moved the request off the requested model)
and moves refused (the table named another model, the planner refused it: each with the rule
that classified the request and the planner's reasons). Errors and response-cache hits are not
replayed (counted as ``skipped``); a request whose model has no price on either side is counted
as ``unpriced`` and left out of the sums, so the sums always add up.

Needs no prompt text (works with ``telemetry.store_prompts`` off): the cache identity, the rule
and the price conditions ride in the event's signals (``telemetry.recorder``). Events recorded
before they did use the session as their cache identity. Does not serve, route live traffic or
write anything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from ..core.context import RouteDecision
from ..core.ir import GatewayRequest, Protocol, ThinkingConfig, Usage
from ..core.route_classes import ROUTE_CLASSES, RouteClass
from ..costs.cache_state import FIVE_MINUTES, CacheState, ModelRef, marks_of
from ..costs.counterfactual import step
from ..costs.prices import PriceBook, cost_of
from ..costs.switching import assess_move
from ..telemetry.events import from_row, row_usage
from ..telemetry.queries import events_reader
from .backtest_report import Move, Report, Tally
from .ladders import Ladders, load_ladders
from .policy import CLAMP_SAFE, Assess, Requested, RouteTable, check_candidate, need_of, plan
from .registry import Registry
from .taskplan import HOUSEKEEPING_RULES, stable_of
from .tasks import TaskBook

_PROTOCOLS: dict[str, Protocol] = {"anthropic": "anthropic", "chat": "chat", "responses": "responses"}


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded request as the replay reads it."""

    id: str
    ts: float
    session: str | None
    identity: str
    client: str
    protocol: Protocol
    route_class: RouteClass | None
    confidence: float
    rule: str
    signals: Mapping[str, object]
    requested: ModelRef
    served: ModelRef
    pinned: bool
    usage: Usage
    conditions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Policy:
    """The route table to test and what the planner needs besides it (the daemon's own)."""

    table: RouteTable
    registry: Registry
    prices: PriceBook
    configured: Callable[[str], bool]
    allow_experimental: bool = False
    min_confidence: float = 0.5
    # The tier ladders and the fresh-context lane ("cheaper", "cheapest", "off"), as live mode.
    ladders: Ladders = field(default_factory=load_ladders)
    fresh_context: str = "cheaper"


# -- reading events --------------------------------------------------------------------------------


def load(path: Path, *, since: float | None = None) -> list[dict[str, Any]]:
    """Every event since ``since`` in the order it was recorded (blocking: run it in a thread)."""
    with events_reader(path) as conn:
        if conn is None:
            return []
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM events WHERE ts >= ? ORDER BY ts, rowid", (since or 0.0,))
        return [from_row(dict(row)) for row in rows]


def _is_class(value: object) -> TypeGuard[RouteClass]:
    return isinstance(value, str) and value in ROUTE_CLASSES


def recorded(row: Mapping[str, Any]) -> Recorded | None:
    """A stored event as a replayable request; None for what is not replayed (errors, cut
    streams that billed nothing, response-cache hits, requests that reached no upstream)."""
    provider, model = row.get("selected_provider"), row.get("selected_model")
    if not provider or not model or row.get("cache_status") == "response_hit":
        return None
    if row.get("status") == "error":
        return None
    usage = row_usage(row)
    if usage.total_input_tokens + usage.output_tokens == 0:
        return None
    signals = row.get("signals") if isinstance(row.get("signals"), dict) else {}
    assert isinstance(signals, dict)
    reasons = signals.get("plan_reasons")
    pinned = isinstance(reasons, list) and bool(reasons) and str(reasons[0]).startswith("pinned")
    session = row.get("session_id")
    identity = signals.get("cache_identity")
    conditions = signals.get("price_conditions")
    requested = (row.get("requested_provider"), row.get("requested_model"))
    route_class = row.get("route_class")
    return Recorded(
        id=str(row.get("id")),
        ts=float(row.get("ts") or 0.0),
        session=session if isinstance(session, str) else None,
        identity=identity if isinstance(identity, str) else f"session:{session or row.get('id')}",
        client=str(row.get("client") or "unknown"),
        protocol=_PROTOCOLS.get(str(row.get("protocol")), "anthropic"),
        route_class=route_class if _is_class(route_class) else None,
        confidence=float(row.get("confidence") or 0.0),
        rule=str(signals.get("rule") or ""),
        signals=signals,
        requested=(str(requested[0]), str(requested[1])) if all(requested) else (provider, model),
        served=(provider, model),
        pinned=pinned,
        usage=usage,
        conditions=frozenset(str(c) for c in conditions) if isinstance(conditions, list) else frozenset(),
    )


# -- the replay ------------------------------------------------------------------------------------


def _request(event: Recorded) -> GatewayRequest:
    """The little of the request the planner reads beyond the signals (max_tokens, thinking)."""
    max_tokens = event.signals.get("max_tokens")
    effort = event.signals.get("effort")
    thinking = (
        ThinkingConfig(effort=effort if isinstance(effort, str) else None)
        if event.signals.get("thinking") is True
        else None
    )
    return GatewayRequest(
        protocol=event.protocol,
        model=event.requested[1],
        messages=[],
        max_tokens=max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None,
        thinking=thinking,
    )


def route(
    event: Recorded,
    policy: Policy,
    sticky: str | None,
    *,
    lane: str | None = None,
    assess: Assess | None = None,
) -> tuple[ModelRef, tuple[str, ...]]:
    """Where ``policy`` sends ``event`` (live mode, every provider healthy) and the planner's reasons."""
    if event.route_class is None:
        return event.requested, ("not classified: served as requested",)
    decision = RouteDecision(event.route_class, event.confidence, event.rule, event.signals)
    requested_key = f"{event.requested[0]}/{event.requested[1]}"
    the_plan = plan(
        _request(event),
        decision,
        Requested(event.requested[0], event.requested[1], event.pinned),
        mode="live",
        route_table=policy.table,
        registry=policy.registry,
        health=lambda _provider: True,
        sticky=sticky,
        client=event.client,
        allow_experimental=policy.allow_experimental,
        configured=policy.configured,
        prices=policy.prices,
        min_confidence=policy.min_confidence,
        step=lambda token: policy.ladders.step(requested_key, token),
        lane=lane,
        assess=assess,
    )
    chosen = the_plan.would_route
    target = (chosen.provider, chosen.model) if chosen is not None else event.requested
    return target, the_plan.reasons


def _task_route(
    event: Recorded,
    policy: Policy,
    sticky: Mapping[str, str],
    caches: Mapping[tuple[str, str, ModelRef], CacheState],
    tasks: TaskBook,
) -> tuple[ModelRef, tuple[str, ...]]:
    """Live mode's rule per task: a tool result continues its identity's task on the task's model;
    a task start is planned with the lane and the cache-aware cost check on the simulated caches."""
    current = tasks.current(event.identity)
    if event.rule == "tool_result" and current is not None:
        tasks.follow(event.identity, (0, 0))
        if current.model == event.requested:
            return current.model, (f"task continues on {current.model[0]}/{current.model[1]}",)
        decision = RouteDecision(
            event.route_class or "tool_loop", event.confidence, event.rule, event.signals
        )
        ok, why, _ = check_candidate(
            policy.registry.describe(*current.model),
            need_of(_request(event), decision, decision.route_class),
            policy.registry,
            event.client,
            policy.allow_experimental,
            clamp_ok=current.fresh or current.clamped,
        )
        if ok:
            return current.model, (f"task continues on {current.model[0]}/{current.model[1]}",)
        tasks.served(event.identity, current.task_id, event.requested)
        return event.requested, (f"task target no longer usable ({why})",)
    housekeeping = event.rule in HOUSEKEEPING_RULES
    fresh = housekeeping or event.signals.get("fresh_context") is True
    requested_key = f"{event.requested[0]}/{event.requested[1]}"
    lane = None
    if fresh and policy.fresh_context != "off" and not event.pinned:
        lane = policy.ladders.step(requested_key, policy.fresh_context)
    now = event.ts
    requested_state = caches.get(("simulated", event.identity, event.requested))
    est = event.signals.get("est_tokens")
    shape = tasks.shape(
        event.session,
        est if isinstance(est, int) and not isinstance(est, bool) else event.usage.total_input_tokens,
        fresh=fresh,
        single=housekeeping,
        lifetime=requested_state.lifetime if requested_state is not None else FIVE_MINUTES,
    )

    def assess(provider: str, model: str) -> tuple[bool, str]:
        target: ModelRef = (provider, model)
        verdict = assess_move(
            policy.prices,
            event.requested,
            requested_state,
            target,
            caches.get(("simulated", event.identity, target)),
            shape,
            now,
            event.conditions,
            stable_of(event.signals),
            returns=not fresh,
        )
        return verdict.pays, verdict.why(f"{provider}/{model}")

    target, reasons = route(
        event, policy, sticky.get(event.session) if event.session else None, lane=lane, assess=assess
    )
    clamped = fresh or event.route_class in CLAMP_SAFE
    tasks.start(event.identity, event.session, target, fresh=fresh, now=now, clamped=clamped)
    return target, reasons


def _refusals(reasons: Sequence[str]) -> tuple[str, ...]:
    return tuple(r for r in reasons if r.startswith(("skip ", "confidence below")))


def replay(events: Iterable[Recorded], policy: Policy) -> Report:
    """Replay ``events`` (in the order they finished) through ``policy`` (module docstring)."""
    report = Report()
    caches: dict[tuple[str, str, ModelRef], CacheState] = {}
    sticky: dict[str, str] = {}
    tasks = TaskBook()
    # identity → the class of its last detour's first move, and whether the detour goes on
    detours: dict[str, tuple[str, bool]] = {}
    for event in events:
        target, reasons = _task_route(event, policy, sticky, caches, tasks)
        served_key = ("actual", event.identity, event.served)
        other_key = ("simulated", event.identity, target)
        result = step(
            event.served,
            target,
            event.usage,
            served_before=caches.get(served_key),
            other_before=caches.get(other_key),
            now=event.ts,
            marks=marks_of(event.signals.get("cache_marks")),
        )
        for key, state in ((served_key, result.served_after), (other_key, result.other_after)):
            if state is not None:
                caches[key] = state
        if event.session:
            sticky[event.session] = target[0]
        tasks.observe(
            event.session, event.usage.total_input_tokens, event.usage.output_tokens, event.identity
        )
        actual = cost_of(policy.prices.get(*event.served), event.usage, event.conditions)
        simulated = cost_of(policy.prices.get(*target), result.counterfactual.usage, event.conditions)
        priced = actual.priced and simulated.priced
        klass = event.route_class or "unclassified"
        tallies = (
            report.totals,
            report.by_session.setdefault(event.session or "(no session)", Tally()),
            report.by_class.setdefault(klass, Tally()),
        )
        refused = _refusals(reasons) if target == event.requested else ()
        requested = f"{event.requested[0]}/{event.requested[1]}"
        saving = actual.total - simulated.total if priced else None
        if target != event.requested:
            to = f"{target[0]}/{target[1]}"
            report.taken.append(Move(event.id, event.session, klass, event.rule, requested, to, (), saving))
        elif refused:
            report.refused.append(
                Move(event.id, event.session, klass, event.rule, requested, None, refused, saving)
            )
        owed_to = _detour(detours, event, target, result.counterfactual.usage != event.usage)
        if owed_to is not None and owed_to != klass and saving is not None:
            tallies[2].charged_back_usd -= saving
            report.by_class.setdefault(owed_to, Tally()).charged_back_usd += saving
        for tally in tallies:
            tally.requests += 1
            tally.moves_taken += target != event.requested
            tally.moves_refused += bool(refused)
            if priced:
                tally.actual_usd += actual.total
                tally.simulated_usd += simulated.total
            else:
                tally.unpriced += 1
    return report


def _detour(
    detours: dict[str, tuple[str, bool]], event: Recorded, target: ModelRef, differs: bool
) -> str | None:
    """Track detours per identity (a move after a same-model request starts one); the class a
    same-model request whose caches differ owes its saving to (``Tally.charged_back_usd``)."""
    last = detours.get(event.identity)
    if target != event.served:
        if last is None or not last[1]:
            detours[event.identity] = (event.route_class or "unclassified", True)
        return None
    if last is None:
        return None
    detours[event.identity] = (last[0], False)
    return last[0] if differs else None


def backtest(rows: Iterable[Mapping[str, Any]], policy: Policy) -> Report:
    """Stored event rows (``load``) replayed through ``policy``; rows not replayed are ``skipped``."""
    events: list[Recorded] = []
    skipped = 0
    for row in rows:
        event = recorded(row)
        if event is None:
            skipped += 1
        else:
            events.append(event)
    report = replay(events, policy)
    report.skipped = skipped
    return report
