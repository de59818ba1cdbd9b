"""Routing per task: the model chosen at a task's first request serves its whole tool loop.

A task is a user turn and its tool loop, per cache identity (the conversation, or a subagent's
own context). At a task's first request ``decide_task``:

- keeps a quota probe, a pinned model and a holdout session (live mode) on the requested model;
- sends a fresh context — a subagent run (a new identity with tools in a session whose main
  conversation is another one, with no history yet), a side call without tools on its own prefix
  (e.g. a compaction request) or a title / topic check — to the lane: the
  requested model's ``routing.fresh_context`` tier of its ladder;
- judges every valid move by the cache-aware task cost (``costs.switching.assess_move``): taken
  only when the expected saving over the task exceeds the cold write on the target and the
  requested model's cache lost meanwhile; a vetoed move is recorded with its numbers.

A request that carries tool results continues its identity's task on the task's model (while it
still fits and is safe for the tools; otherwise back to the requested model, with the reason).
In shadow mode the same verdicts make the would-be route; the requested model serves. Pure but
for the router's bounded books (tasks, caches) it reads and updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.context import RouteDecision, RouteTask
from ..core.ir import GatewayRequest, ToolResultPart
from ..costs.cache_state import FIVE_MINUTES, ModelRef
from ..costs.switching import assess_move
from ..upstream.targets import Target
from .effort import lowered
from .policy import Candidate, Mode, Plan, check_candidate, need_of
from .signals import last_user_message
from .tasks import in_holdout

if TYPE_CHECKING:
    from .runtime import Router, World

# Classifier rules for one-request housekeeping calls that share no cache with the conversation.
HOUSEKEEPING_RULES = frozenset({"topic_check", "title_request", "structured_small"})


def tool_errors(request: GatewayRequest) -> int:
    """Tool results marked as errors in the latest user message."""
    message = last_user_message(request.messages)
    if message is None:
        return 0
    return sum(1 for part in message.parts if isinstance(part, ToolResultPart) and part.is_error)


def _fresh_history(request: GatewayRequest) -> bool:
    return all(m.role != "assistant" for m in request.messages)


def _key(ref: ModelRef) -> str:
    return f"{ref[0]}/{ref[1]}"


def stable_of(signals: Mapping[str, object]) -> int | None:
    """The stable prefix a look-back miss still finds (``cache_stable_tokens``), when the
    request's breakpoints are known; None otherwise."""
    value = signals.get("cache_stable_tokens")
    if "cache_marks" not in signals or type(value) is not int or value < 0:
        return None
    return value


def decide_task(
    router: Router,
    request: GatewayRequest,
    decision: RouteDecision,
    requested: Target,
    *,
    mode: Mode,
    client: str,
    session: str | None,
    identity: str,
    conditions: frozenset[str],
    degrade: bool = False,
) -> tuple[RouteDecision, Plan, RouteTask]:
    routing = router.config.routing
    tasks = router.tasks
    est = decision.signals.get("est_tokens")
    est_tokens = est if isinstance(est, int) else 0
    signature = (len(request.messages), est_tokens)
    req_ref: ModelRef = (requested.spec.name, requested.model)
    holdout = mode == "live" and in_holdout(session, routing.holdout)
    errors = tool_errors(request)

    if decision.rule == "tool_result" and tasks.current(identity) is not None:
        task, retry = tasks.follow(identity, signature)
        if task is not None:
            the_plan = _continue(
                router, request, decision, requested, task.model, mode, client, task.fresh or task.clamped
            )
            would = the_plan.would_route
            if would is not None and (would.provider, would.model) != task.model:
                tasks.served(identity, task.task_id, (would.provider, would.model))
            return (
                decision,
                the_plan,
                RouteTask(
                    task.task_id,
                    task.decision_id,
                    start=False,
                    fresh=task.fresh,
                    holdout=holdout,
                    retry=retry,
                    tool_errors=errors,
                    previous=task.model if mode == "live" else None,
                    detail={"task": f"continues on {_key(task.model)}"},
                    effort=task.effort if mode == "live" else None,
                    effort_from=task.effort_from,
                ),
            )

    previous_task = tasks.current(identity)
    # What served the identity last (shadow mode serves as requested: None means that).
    previous = previous_task.model if previous_task is not None and mode == "live" else None
    tools = decision.signals.get("carries_tools") is True
    housekeeping = decision.rule in HOUSEKEEPING_RULES
    side = tasks.side_context(session, identity, tools=tools, fresh_history=_fresh_history(request))
    fresh = housekeeping or side is not None
    detail: dict[str, object] = {"task": "start"}
    if fresh:
        detail["fresh_context"] = "title/topic call" if housekeeping else side
    lane = None
    if fresh and routing.fresh_context != "off" and not holdout and not requested.pinned:
        lane = router.ladders.step(_key(req_ref), routing.fresh_context)
        detail["lane"] = lane or f"{_key(req_ref)} has no {routing.fresh_context} tier"
    degraded = degrade and decision.route_class != "tool_loop" and not requested.pinned
    if degraded:
        lane = router.ladders.step(_key(req_ref), "cheaper") or lane
        detail["degrade"] = f"budget used up: {lane or 'no cheaper tier'}"

    world: World = "actual" if mode == "live" else "shadow"
    now = router.caches.clock()
    req_state = router.caches.get(world, identity, req_ref)
    shape = tasks.shape(
        session,
        est_tokens,
        fresh=fresh,
        single=housekeeping,
        lifetime=req_state.lifetime if req_state is not None else FIVE_MINUTES,
    )
    detail["expected_task"] = {"requests": shape.requests, "prompt_tokens": shape.prefix_tokens}
    detail["cache"] = {
        _key(req_ref): {"tokens": req_state.tokens, "expires_in_s": round(req_state.expires - now)}
        if req_state is not None and req_state.alive(now)
        else "cold"
    }
    candidates: list[dict[str, object]] = []
    stable = stable_of(decision.signals)

    def assess(provider: str, model: str) -> tuple[bool, str]:
        target: ModelRef = (provider, model)
        target_state = router.caches.get(world, identity, target)
        verdict = assess_move(
            router.prices,
            req_ref,
            req_state,
            target,
            target_state,
            shape,
            now,
            conditions,
            stable,
            returns=not fresh,
        )
        why = verdict.why(_key(target))
        candidates.append(
            {
                "target": _key(target),
                "expected_cost": round(verdict.move, 6),
                "expected_cost_requested": round(verdict.stay, 6),
                "cold_write": round(verdict.cold_write, 6),
                "cache_lost": round(verdict.consequence, 6),
                "taken": verdict.pays,
                "why": why,
            }
        )
        return verdict.pays, why

    if holdout and not requested.pinned:
        kept = Candidate(req_ref[0], req_ref[1], "holdout session")
        the_plan = Plan(mode, (kept,), kept, ("holdout session: served as requested",))
    else:
        the_plan = router.plan_request(
            request,
            decision,
            requested,
            mode=mode,
            client=client,
            session=session,
            step=lambda token: router.ladders.step(_key(req_ref), token),
            lane=lane,
            assess=None if degraded else assess,
        )
    detail["candidates"] = candidates
    chosen = the_plan.would_route
    model: ModelRef = (chosen.provider, chosen.model) if chosen is not None else req_ref
    clamped = chosen is not None and chosen.max_tokens is not None
    if clamped:  # the task's model takes max_tokens clamped (recorded: a restart puts it back)
        detail["clamped"] = True
    task = tasks.start(identity, session, model, fresh=fresh, now=now, clamped=clamped)
    asked = request.thinking.effort if request.thinking is not None else None
    effort = None if holdout or requested.pinned else lowered(asked, routing.effort.get(decision.route_class))
    if effort is not None:
        task.effort, task.effort_from = effort, asked
        detail["effort"] = f"{asked} -> {effort}" + ("" if mode == "live" else " (live mode)")
    tasks.mark(task, signature)
    return (
        decision,
        the_plan,
        RouteTask(
            task.task_id,
            task.decision_id,
            start=True,
            fresh=fresh,
            holdout=holdout,
            tool_errors=errors,
            previous=previous,
            detail=detail,
            effort=effort if mode == "live" else None,
            effort_from=asked if effort is not None else None,
        ),
    )


def _continue(
    router: Router,
    request: GatewayRequest,
    decision: RouteDecision,
    requested: Target,
    model: ModelRef,
    mode: Mode,
    client: str,
    clamp_ok: bool,
) -> Plan:
    """The task's model serves the tool loop (requested model last, as the fallback)."""
    req_cand = Candidate(requested.spec.name, requested.model, "requested")
    if model == (req_cand.provider, req_cand.model) or requested.pinned:
        return Plan(mode, (req_cand,), req_cand, (f"task continues on {req_cand.key}",))
    routing = router.config.routing
    info = router.registry.describe(*model)
    ok, why, clamp = check_candidate(
        info,
        need_of(request, decision, decision.route_class),
        router.registry,
        client,
        routing.allow_experimental,
        clamp_ok=clamp_ok,
    )
    if ok and not router.is_configured(model[0]):
        ok, why = False, "provider not configured"
    if ok and not router.breakers.healthy(model[0]):
        ok, why = False, "circuit open"
    if not ok:
        reason = f"task target {_key(model)} no longer usable ({why}): back to {req_cand.key}"
        return Plan(mode, (req_cand,), req_cand, (reason,))
    cand = Candidate(model[0], model[1], f"task continues on {_key(model)}; {why}", clamp)
    if mode == "live":
        return Plan(mode, (cand, req_cand), cand, (cand.reason,))
    return Plan(mode, (req_cand,), cand, (cand.reason,))
