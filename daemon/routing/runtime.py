"""The router the daemon holds for its lifetime: registry, route table, breakers, prices,
session memory, the prompt-cache book and which providers have keys. Turns a resolved request
into a plan.

``CacheBook`` is the per-daemon mutable store of ``costs.cache_state.CacheState`` values, per
world (what happened; the other world of shadow or live mode), cache identity and model; its
transitions are the pure ``costs.counterfactual.step`` (applied by ``compose.settle``)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from threading import Lock
from typing import Literal

from ..core.config import Config
from ..core.context import RouteDecision, RouteTask
from ..core.ir import GatewayRequest, Usage
from ..costs.cache_state import CacheState, Marks, ModelRef
from ..costs.counterfactual import Counterfactual, MoveRef, step
from ..costs.prices import PriceBook, load_pricebook
from ..upstream.targets import Providers, Target
from .breaker import BreakerBoard
from .classify import classify
from .ladders import Ladders, load_ladders
from .policy import Assess, Candidate, Plan, Requested, RouteTable, build_route_table, plan
from .registry import Registry, load_registry
from .taskplan import decide_task
from .tasks import TaskBook


@dataclass(slots=True)
class SessionState:
    provider: str


class SessionMemory:
    """Bounded LRU of session id → where it was last served (stickiness keeps caches warm)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._items: OrderedDict[str, SessionState] = OrderedDict()
        self._capacity = capacity
        self._lock = Lock()

    def get(self, session: str | None) -> SessionState | None:
        if session is None:
            return None
        with self._lock:
            state = self._items.get(session)
            if state is not None:
                self._items.move_to_end(session)
            return state

    def remember(self, session: str | None, provider: str) -> None:
        if session is None:
            return
        with self._lock:
            state = self._items.get(session)
            if state is None:
                state = self._items[session] = SessionState(provider)
            state.provider = provider
            self._items.move_to_end(session)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


# "actual": the caches as the upstreams billed them; "shadow" / "live": the other world of that
# mode (shadow: the live plan followed; live: nothing routed).
World = Literal["actual", "shadow", "live"]
_CacheKey = tuple[World, str, str, str]


@dataclass(frozen=True, slots=True)
class Advanced:
    """One request's counterfactual, and the move its cache difference is owed to (if any)."""

    counterfactual: Counterfactual
    owed_to: MoveRef | None = None


class CacheBook:
    """Bounded LRU of (world, cache identity, provider, model) → ``CacheState``, and per (world,
    identity) the last move (``MoveRef``).

    ``clock`` (seconds, ``time.time``) dates every use; a test hands in the fake upstream's clock.
    """

    def __init__(self, capacity: int = 50_000, clock: Callable[[], float] = time.time) -> None:
        self._items: OrderedDict[_CacheKey, CacheState] = OrderedDict()
        # (world, identity) → the start of its last detour, and whether the detour goes on.
        self._moves: OrderedDict[tuple[World, str], tuple[MoveRef, bool]] = OrderedDict()
        self._capacity = capacity
        self._lock = Lock()
        self.clock = clock

    def __len__(self) -> int:
        return len(self._items)

    def get(self, world: World, identity: str, model: ModelRef) -> CacheState | None:
        key = (world, identity, model[0], model[1])
        with self._lock:
            state = self._items.get(key)
            if state is not None:
                self._items.move_to_end(key)
            return state

    def put(self, world: World, identity: str, model: ModelRef, state: CacheState | None) -> None:
        if state is None:
            return
        key = (world, identity, model[0], model[1])
        with self._lock:
            self._items[key] = state
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def advance(
        self,
        mode: str,
        identity: str,
        served: ModelRef,
        other: ModelRef,
        usage: Usage,
        now: float,
        marks: Marks = (),
        *,
        request_id: str = "",
        route_class: str | None = None,
    ) -> Advanced:
        """One request billed ``usage`` on ``served`` at ``now`` (breakpoints ``marks``): both
        worlds' caches of ``identity`` move on (``costs.counterfactual.step``); its counterfactual
        on ``other``. A request served on different models in the two worlds after one served on
        the same model starts a detour (the move); a same-model request whose two caches differ
        owes that difference to the last detour's move."""
        world: World = "live" if mode == "live" else "shadow"
        result = step(
            served,
            other,
            usage,
            served_before=self.get("actual", identity, served),
            other_before=self.get(world, identity, other),
            now=now,
            marks=marks,
        )
        self.put("actual", identity, served, result.served_after)
        self.put(world, identity, other, result.other_after)
        key = (world, identity)
        owed: MoveRef | None = None
        with self._lock:
            last = self._moves.get(key)
            if other != served:
                if last is None or not last[1]:  # a detour starts here (its later requests follow it)
                    self._moves[key] = (
                        MoveRef(request_id, route_class, served if mode == "live" else other),
                        True,
                    )
                self._moves.move_to_end(key)
                while len(self._moves) > self._capacity:
                    self._moves.popitem(last=False)
            elif last is not None:
                self._moves[key] = (last[0], False)  # the detour is over
                if result.counterfactual.usage != usage:
                    owed = last[0]
        return Advanced(result.counterfactual, owed)


@dataclass(slots=True)
class Router:
    config: Config
    registry: Registry
    table: RouteTable
    prices: PriceBook
    breakers: BreakerBoard = field(default_factory=BreakerBoard)
    sessions: SessionMemory = field(default_factory=SessionMemory)
    caches: CacheBook = field(default_factory=CacheBook)
    # Providers with a usable key (refreshed by the app); keyless local providers always count.
    configured: set[str] = field(default_factory=set)
    # The providers as resolved at start-up (base URLs, loops, memoised name resolution).
    providers: Providers = field(default_factory=lambda: Providers.resolve_all(Config(), {}))
    ladders: Ladders = field(default_factory=load_ladders)
    tasks: TaskBook = field(default_factory=TaskBook)

    def resolve(self, name: str) -> Target:
        """The client's model name → its target (memoised; runs on every request)."""
        return self.providers.resolve(name)

    @classmethod
    def from_config(cls, config: Config, providers: Providers | None = None) -> Router:
        return cls(
            config=config,
            providers=providers or Providers.resolve_all(config, {}),
            registry=load_registry(config.models),
            table=build_route_table(config.routes),
            prices=load_pricebook(config.prices),
            ladders=load_ladders(config.ladders),
        )

    def is_configured(self, provider: str) -> bool:
        return provider in self.configured

    def decide(
        self,
        request: GatewayRequest,
        requested: Target,
        *,
        mode: str,
        client: str,
        session: str | None,
        identity: str | None = None,
        conditions: frozenset[str] = frozenset(),
        degrade: bool = False,
        allowed: frozenset[str] | None = None,
    ) -> tuple[RouteDecision, Plan, RouteTask | None]:
        """Classify and plan a request; with a cache identity, per task (``taskplan``).

        ``degrade``: a budget is used up (non-tool-loop classes go one tier down, without the cost
        check); ``allowed``: the only providers the client or repository may reach (None: any)."""
        routing = self.config.routing
        decision = classify(request, client=client, long_context_tokens=routing.long_context_tokens)
        if allowed is not None:
            return (
                decision,
                self._restricted(request, decision, requested, mode, client, session, allowed),
                None,
            )
        if identity is not None:
            return decide_task(
                self,
                request,
                decision,
                requested,
                mode="live" if mode == "live" else "shadow",
                client=client,
                session=session,
                identity=identity,
                conditions=conditions,
                degrade=degrade,
            )
        return (
            decision,
            self.plan_request(request, decision, requested, mode=mode, client=client, session=session),
            None,
        )

    def explain(
        self,
        request: GatewayRequest,
        requested: Target,
        *,
        mode: str,
        client: str,
        session: str | None,
        identity: str | None,
        conditions: frozenset[str] = frozenset(),
    ) -> tuple[RouteDecision, Plan, RouteTask | None]:
        """``decide`` as a dry run: on a copy of the task book, so nothing is remembered."""
        dry = replace(self, tasks=self.tasks.snapshot())
        return dry.decide(
            request,
            requested,
            mode=mode,
            client=client,
            session=session,
            identity=identity,
            conditions=conditions,
        )

    def _restricted(
        self,
        request: GatewayRequest,
        decision: RouteDecision,
        requested: Target,
        mode: str,
        client: str,
        session: str | None,
        allowed: frozenset[str],
    ) -> Plan:
        """A plan whose moves and fallbacks stay within ``allowed`` providers (governance)."""
        full = self.plan_request(request, decision, requested, mode=mode, client=client, session=session)
        kept = tuple(c for c in full.serve if c.provider in allowed or c.provider == requested.spec.name)
        would = full.would_route
        if would is not None and would.provider not in allowed:
            would = kept[0] if kept else None
        reasons = (*full.reasons, f"providers limited to {', '.join(sorted(allowed))} by policy")
        return Plan(full.mode, kept, would, reasons)

    def plan_request(
        self,
        request: GatewayRequest,
        decision: RouteDecision,
        requested: Target,
        *,
        mode: str,
        client: str,
        session: str | None,
        step: Callable[[str], str | None] | None = None,
        lane: str | None = None,
        assess: Assess | None = None,
    ) -> Plan:
        """One request planned (the task planner adds its ladder ``step``, ``lane`` and cost check)."""
        routing = self.config.routing
        sticky = self.sessions.get(session)
        return plan(
            request,
            decision,
            Requested(requested.spec.name, requested.model, requested.pinned),
            mode="live" if mode == "live" else "shadow",
            route_table=self.table,
            registry=self.registry,
            health=self.breakers.healthy,
            sticky=sticky.provider if sticky else None,
            client=client,
            allow_experimental=routing.allow_experimental,
            configured=self.is_configured,
            shadow_fallback=routing.shadow_fallback,
            prices=self.prices,
            min_confidence=routing.min_confidence,
            step=step,
            lane=lane,
            assess=assess,
        )

    def target_for(self, cand: Candidate, requested: Target) -> Target:
        if cand.provider == requested.spec.name and cand.model == requested.model:
            return requested
        return self.providers.target(cand.provider, cand.model)
