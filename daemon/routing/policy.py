"""Routing policy: from a route decision to the ordered list of candidates that serve a turn.

Owns the default route table, the candidate validity rules (docs/routing.md, "Policy"), session
stickiness, and the shadow/live difference:

- shadow: serve the requested model (first, always); record what live mode would have picked;
- live: serve the first valid route-table candidate, then the next ones, with the requested
  model always last (the last-resort fallback) unless the table names it, which keeps its place.

A pinned request (the client named ``provider/model``, or a ``model_map`` entry) is served as-is
in both modes, and so is a quota probe (it checks the requested account). Route-table entries
``"cheaper"`` / ``"cheapest"`` name a tier of the requested model's ladder (``ladders``); a
fresh-context request (``lane``) tries its lane target first. Whether a valid move pays is the
``assess`` callable's verdict (the cache-aware task cost, ``costs.switching``); without one, a
target must have a lower list input price. Does not execute, retry or track health
(``breaker``); it only reads the ``health``/``configured`` predicates it is given. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeGuard

from ..core.context import RouteDecision
from ..core.ir import GatewayRequest
from ..core.route_classes import REQUESTED, ROUTE_CLASSES, RouteClass
from ..costs.prices import PriceBook
from .ladders import STEPS
from .registry import ModelInfo, Registry, split_key
from .signals import carries_tools, estimate_tokens, has_images, wants_thinking

Mode = Literal["shadow", "live"]
# (provider, model) -> (the move pays, why): the cache-aware verdict on one valid candidate.
Assess = Callable[[str, str], tuple[bool, str]]
RouteTable = Mapping[RouteClass, Sequence[str]]

DEFAULT_ROUTES: dict[RouteClass, tuple[str, ...]] = {
    "tool_loop": (REQUESTED,),
    "long_context": (REQUESTED,),
    "deep_reasoning": (REQUESTED,),
    "planning": (REQUESTED,),
    "code_draft": ("groq/openai/gpt-oss-120b", "openai/gpt-5.4-mini"),
    "fast_code": ("groq/openai/gpt-oss-120b", "openai/gpt-5.4-mini", "cerebras/gpt-oss-120b"),
    "cheap_edit": ("groq/openai/gpt-oss-120b", "openai/gpt-5.4-mini", "groq/llama-3.1-8b-instant"),
    "summary": ("groq/llama-3.1-8b-instant", "cerebras/gpt-oss-120b", "openai/gpt-5.4-mini"),
    "background": ("groq/llama-3.1-8b-instant", "cerebras/gpt-oss-120b", "openai/gpt-5.4-nano"),
    "fallback_safe": (REQUESTED,),
}
# Below this confidence a decision routes like fallback_safe.
MIN_CONFIDENCE = 0.5
# Classes whose answers are short: an oversized max_tokens may be clamped to the target's limit.
CLAMP_SAFE: frozenset[RouteClass] = frozenset({"background", "summary", "cheap_edit", "fast_code"})
# A clamp never goes below this (or below the request's own max_tokens when that is smaller).
MIN_CLAMPED_OUTPUT = 4_096


def build_route_table(
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> dict[RouteClass, tuple[str, ...]]:
    """The default table with the config's ``routes`` entries replacing whole classes."""
    table = dict(DEFAULT_ROUTES)
    for name, targets in (overrides or {}).items():
        if not _is_class(name):
            raise ValueError(f"unknown route class {name!r} (known: {', '.join(ROUTE_CLASSES)})")
        table[name] = tuple(targets)
    return table


def _is_class(name: str) -> TypeGuard[RouteClass]:
    return name in ROUTE_CLASSES


@dataclass(frozen=True, slots=True)
class Requested:
    """The model the client asked for, as resolved (``Target.spec.name``, ``Target.model``)."""

    provider: str
    model: str
    pinned: bool = False

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: str
    model: str
    reason: str
    # Clamp the request's max_tokens to this before sending (None: send it unchanged).
    max_tokens: int | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True)
class Plan:
    mode: Mode
    # Try in order; fall back to the next only before the first byte reached the client.
    serve: tuple[Candidate, ...]
    # What live mode serves first (serve[0] in live mode; the requested model when nothing
    # cheaper is valid). Typed Optional so callers can store "no routing" uniformly.
    would_route: Candidate | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Need:
    est_tokens: int
    max_tokens: int | None
    tools: bool
    images: bool
    thinking: bool
    route_class: RouteClass
    thinking_budget: int | None = None


def _est(decision: RouteDecision, req: GatewayRequest) -> int:
    est = decision.signals.get("est_tokens")
    return est if isinstance(est, int) else estimate_tokens(req)


def _fact(
    decision: RouteDecision, name: str, compute: Callable[[GatewayRequest], bool], req: GatewayRequest
) -> bool:
    """A boolean the classifier already computed (a signal), else computed now."""
    value = decision.signals.get(name)
    return value if isinstance(value, bool) else compute(req)


def check_candidate(
    info: ModelInfo,
    need: _Need,
    registry: Registry,
    client: str,
    allow_experimental: bool,
    clamp_ok: bool = False,
) -> tuple[bool, str, int | None]:
    """(valid, why, clamp) for one non-requested candidate."""
    if not info.known:
        return False, "not in the compatibility registry", None
    if need.tools and not registry.safe_for(info, client, allow_experimental=allow_experimental):
        return False, f"not safe for tool turns from {client}", None
    if need.images and not info.vision:
        return False, "no vision", None
    if need.thinking and not info.thinking:
        return False, "no thinking support", None
    if registry.fits(info, need.est_tokens, need.max_tokens):
        return True, "fits", None
    if info.context_window is None or not registry.fits(info, need.est_tokens, None):
        return False, f"~{need.est_tokens} prompt tokens do not fit its context window", None
    if (clamp_ok or need.route_class in CLAMP_SAFE) and need.max_tokens:
        room = info.context_window - math.ceil(need.est_tokens * 1.2)
        clamp = min(need.max_tokens, room, info.max_output or room)
        budget = need.thinking_budget or 0
        if (
            clamp >= min(need.max_tokens, MIN_CLAMPED_OUTPUT)
            and clamp > budget
            and registry.fits(info, need.est_tokens, clamp)
        ):
            return True, f"max_tokens clamped to {clamp}", clamp
    limit = info.max_output if info.max_output is not None else "its"
    if info.max_output is not None and need.max_tokens and need.max_tokens > info.max_output:
        allowed = (
            "" if (clamp_ok or need.route_class in CLAMP_SAFE) else f" (no clamp for {need.route_class})"
        )
        return False, f"output limit {limit} below max_tokens {need.max_tokens}{allowed}", None
    return False, "prompt plus max_tokens do not fit its context window", None


def need_of(req: GatewayRequest, decision: RouteDecision, route_class: RouteClass) -> _Need:
    """What a request needs of a model (from the decision's signals where it has them)."""
    return _Need(
        est_tokens=_est(decision, req),
        max_tokens=req.max_tokens,
        tools=_fact(decision, "carries_tools", carries_tools, req),
        images=_fact(decision, "has_images", has_images, req),
        thinking=wants_thinking(req),
        route_class=route_class,
        thinking_budget=req.thinking.budget_tokens if req.thinking is not None else None,
    )


def plan(
    req: GatewayRequest,
    decision: RouteDecision,
    requested: Requested,
    *,
    mode: Mode,
    route_table: RouteTable,
    registry: Registry,
    health: Callable[[str], bool],
    sticky: str | None,
    client: str,
    allow_experimental: bool,
    configured: Callable[[str], bool],
    shadow_fallback: bool = False,
    prices: PriceBook | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    step: Callable[[str], str | None] | None = None,
    lane: str | None = None,
    assess: Assess | None = None,
) -> Plan:
    """Plan one turn. See the module docstring and docs/routing.md for the rules."""
    req_cand = Candidate(requested.provider, requested.model, "requested")
    if requested.pinned:
        pinned = Candidate(requested.provider, requested.model, "pinned by the client")
        return Plan(mode, (pinned,), pinned, ("pinned: served as requested",))
    if decision.rule == "quota_probe":
        kept = Candidate(requested.provider, requested.model, "quota probe")
        return Plan(
            mode, (kept,), kept, ("quota probe: stays on the requested model (it checks that account)",)
        )

    route_class = decision.route_class
    reasons: list[str] = [f"class {route_class} ({decision.rule}, confidence {decision.confidence:.2f})"]
    if decision.confidence < min_confidence and route_class != "fallback_safe":
        reasons.append(f"confidence below {min_confidence:.2f}: routing as fallback_safe")
        route_class = "fallback_safe"
    need = need_of(req, decision, route_class)
    requested_price = prices.get(requested.provider, requested.model) if prices else None

    entries: list[str] = list(route_table.get(route_class, (REQUESTED,)))
    if lane is not None:
        entries.insert(0, lane)
    valid: list[Candidate] = []
    for i, entry in enumerate(entries):
        fresh = lane is not None and i == 0
        if entry in STEPS:
            stepped = step(entry) if step is not None else None
            if stepped is None:
                reasons.append(f"skip {entry}: {requested.key} has no {entry} tier on its ladder")
                continue
            entry = stepped
        if entry == REQUESTED or entry == requested.key:
            if all(c.key != requested.key for c in valid):
                valid.append(Candidate(requested.provider, requested.model, f"route table: {route_class}"))
            continue
        try:
            provider, model = split_key(entry)
        except ValueError:
            reasons.append(f"skip {entry!r}: not provider/model")
            continue
        if any(c.key == entry for c in valid):
            continue
        if not configured(provider):
            reasons.append(f"skip {entry}: provider not configured")
            continue
        if not health(provider):
            reasons.append(f"skip {entry}: circuit open")
            continue
        ok, why, clamp = check_candidate(
            registry.describe(provider, model), need, registry, client, allow_experimental, clamp_ok=fresh
        )
        if ok and assess is not None:
            ok, cost_why = assess(provider, model)
            why = f"{why}; {cost_why}" if ok else cost_why
        elif ok and prices is not None and requested_price is not None:
            price = prices.get(provider, model)
            if price is not None and price.input_per_mtok >= requested_price.input_per_mtok:
                ok, why = False, "not cheaper than the requested model"
        if not ok:
            reasons.append(f"skip {entry}: {why}")
            continue
        source = "fresh-context lane" if fresh else f"route table: {route_class}"
        valid.append(Candidate(provider, model, f"{source}; {why}", clamp))

    if sticky is not None and health(sticky):
        for i, cand in enumerate(valid):
            if cand.provider == sticky:
                if i:
                    valid.insert(0, valid.pop(i))
                    reasons.append(f"sticky session: prefer {sticky}")
                break

    live = list(valid)
    if all(c.key != requested.key for c in live):
        if not health(requested.provider):
            reasons.append(f"requested {requested.key}: circuit open, kept as last resort")
        live.append(req_cand)
    would = live[0]
    reasons.append(f"live route: {would.key}")

    if mode == "live":
        return Plan(mode, tuple(live), would, tuple(reasons))
    serve = [req_cand]
    if shadow_fallback:
        serve += [c for c in live if c.provider == requested.provider and c.key != requested.key]
    return Plan(mode, tuple(serve), would, tuple(reasons))
