"""The compaction model and how it is called: through the gateway's own upstream client.

``choose_model`` resolves ``compaction.model``: a ``"provider/model"`` as configured, or
``"auto"`` = the cheapest usable model in the compatibility registry (provider configured,
enabled, breaker closed, not looping back to the gateway) whose context window is at least
``MIN_AUTO_WINDOW`` tokens, ranked by input then output price from the PriceBook (unpriced
models never qualify). ``GatewayModelCall`` sends one prompt as an IR request through the
provider's upstream codec (prompt-cache hints included), feeds the circuit breaker, and records
one telemetry event per call (route class ``summary``, rule ``compaction``; never sticky).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.context import FallbackAttempt, RequestContext, RequestRecord, RouteDecision
from ..core.errors import GatewayError, InvalidRequest, NoProviderAvailable
from ..core.ir import GatewayRequest, Message, TextPart, Usage
from ..execute.translated import fetch
from ..routing.breaker import BreakerBoard
from ..routing.registry import split_key
from ..routing.runtime import Router
from ..upstream.client import UpstreamClient
from ..upstream.targets import Target
from ..wires.cache_hints import CacheHints
from .chunking import DEFAULT_WINDOW

AUTO = "auto"
MIN_AUTO_WINDOW = 16_000


@dataclass(frozen=True, slots=True)
class CompactionModel:
    target: Target
    window: int
    max_output: int | None = None

    @property
    def key(self) -> str:
        return f"{self.target.spec.name}/{self.target.model}"


def choose_model(setting: str, *, router: Router, usable: Callable[[str], bool]) -> CompactionModel:
    """The model ``setting`` names, or for ``"auto"`` the cheapest usable one (see module doc)."""
    if setting != AUTO:
        target = router.resolve(setting)
        if target.spec.bridge is not None:
            raise InvalidRequest(
                f"compaction.model {setting!r} is served through the {target.spec.name} bridge, which "
                "compaction cannot use; name a provider/model reached over HTTP",
                param="compaction.model",
            )
        info = router.registry.get(target.spec.name, target.model)
        window = info.context_window if info is not None and info.context_window else DEFAULT_WINDOW
        return CompactionModel(target, window, info.max_output if info is not None else None)
    ranked: list[tuple[float, float, str]] = []
    for info in router.registry.models.values():
        if (info.context_window or 0) < MIN_AUTO_WINDOW or not usable(info.provider):
            continue
        price = router.prices.get(*split_key(info.price_ref or info.key))
        if price is not None:
            ranked.append((price.input_per_mtok, price.output_per_mtok, info.key))
    if not ranked:
        raise NoProviderAvailable(
            "no configured, healthy, priced model with a context window of at least "
            f"{MIN_AUTO_WINDOW} tokens can compact; configure a provider key or set "
            'compaction.model to "provider/model"'
        )
    best = router.registry.models[min(ranked)[2]]
    target = router.providers.target(best.provider, best.model)
    return CompactionModel(target, best.context_window or DEFAULT_WINDOW, best.max_output)


@dataclass(slots=True)
class GatewayModelCall:
    """One compaction prompt → the model's text, as a recorded gateway request."""

    upstream: UpstreamClient
    model: CompactionModel
    key: str | None
    breakers: BreakerBoard
    request_id: str
    # Every call's record is finished through this hook (the state's ``settle``).
    on_finish: Callable[[RequestRecord], None] | None = None
    # client / session / repo / branch / mode of the compaction request.
    context: RequestContext = field(default_factory=RequestContext)
    cache: CacheHints | None = None
    calls: int = 0

    def _record(self, label: str) -> RequestRecord:
        target = self.model.target
        ctx = self.context
        record = RequestRecord(
            f"{self.request_id}-{self.calls}",
            "compact",
            client_model=self.model.key,
            context=RequestContext(
                client=ctx.client,
                session=ctx.session,
                repo=ctx.repo,
                branch=ctx.branch,
                mode=ctx.mode,
                requested=(target.spec.name, target.model),
                decision=RouteDecision("summary", 1.0, "compaction", {"compaction": True, "call": label}),
                plan_reasons=["compaction"],
                sticky=False,
            ),
            on_finish=self.on_finish,
        )
        record.provider, record.upstream_model, record.translated = target.spec.name, target.model, True
        return record

    async def __call__(self, system: str, prompt: str, *, max_tokens: int, label: str) -> tuple[str, Usage]:
        self.calls += 1
        target = self.model.target
        provider = target.spec.name
        record = self._record(label)
        request = GatewayRequest(
            protocol="chat",
            model=target.model,
            messages=[Message("user", [TextPart(prompt)])],
            system=[TextPart(system)],
            max_tokens=max_tokens,
        )
        try:
            result = await fetch(
                self.upstream,
                target=target,
                request=request,
                provider_key=self.key,
                record=record,
                max_output_tokens=self.model.max_output,
                cache=self.cache,
            )
        except GatewayError as err:
            self.breakers.record(provider, err)
            record.context.chain.append(FallbackAttempt(provider, target.model, "error", err.kind))
            record.finish(error=err)
            raise
        self.breakers.record(provider, None)
        record.context.chain.append(FallbackAttempt(provider, target.model, "ok"))
        record.finish(200)
        text = "".join(p.text for p in result.parts if isinstance(p, TextPart))
        return text, result.usage
