"""The router the daemon holds for its lifetime: registry, route table, breakers, prices,
session memory and which providers have keys. Turns a resolved request into a plan."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock

from ..core.config import Config
from ..core.context import RouteDecision
from ..core.ir import GatewayRequest
from ..costs.prices import PriceBook, load_pricebook
from ..upstream.targets import Providers, Target
from .breaker import BreakerBoard
from .classify import classify
from .policy import Candidate, Plan, Requested, RouteTable, build_route_table, plan
from .registry import Registry, load_registry


@dataclass(slots=True)
class SessionState:
    provider: str
    # The session's last premium prompt-cache footprint (read + write), for live savings.
    premium_cached_tokens: int = 0


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

    def remember(self, session: str | None, provider: str, premium_cached_tokens: int | None = None) -> None:
        if session is None:
            return
        with self._lock:
            state = self._items.get(session)
            if state is None:
                state = self._items[session] = SessionState(provider)
            state.provider = provider
            if premium_cached_tokens is not None:
                state.premium_cached_tokens = premium_cached_tokens
            self._items.move_to_end(session)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


@dataclass(slots=True)
class Router:
    config: Config
    registry: Registry
    table: RouteTable
    prices: PriceBook
    breakers: BreakerBoard = field(default_factory=BreakerBoard)
    sessions: SessionMemory = field(default_factory=SessionMemory)
    # Providers with a usable key (refreshed by the app); keyless local providers always count.
    configured: set[str] = field(default_factory=set)
    # The providers as resolved at start-up (base URLs, loops, memoised name resolution).
    providers: Providers = field(default_factory=lambda: Providers.resolve_all(Config(), {}))

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
        )

    def is_configured(self, provider: str) -> bool:
        return provider in self.configured

    def decide(
        self, request: GatewayRequest, requested: Target, *, mode: str, client: str, session: str | None
    ) -> tuple[RouteDecision, Plan]:
        routing = self.config.routing
        decision = classify(request, client=client, long_context_tokens=routing.long_context_tokens)
        sticky = self.sessions.get(session)
        the_plan = plan(
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
        )
        return decision, the_plan

    def target_for(self, cand: Candidate, requested: Target) -> Target:
        if cand.provider == requested.spec.name and cand.model == requested.model:
            return requested
        return self.providers.target(cand.provider, cand.model)
