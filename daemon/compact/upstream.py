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

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.config import Config
from ..core.errors import GatewayError, NoProviderAvailable, UpstreamProtocolError
from ..core.ir import GatewayRequest, Message, TextPart, Usage
from ..core.providers import base_url_for, builtin_providers
from ..execute.common import RequestRecord, missing_key_error, require_base_url
from ..routing.breaker import BreakerBoard
from ..routing.classify import RouteDecision
from ..routing.registry import split_key
from ..routing.runtime import Router
from ..telemetry.events import FallbackAttempt
from ..upstream.client import UpstreamClient
from ..upstream.targets import Target, resolve_model
from ..wires.cache_hints import CacheHints, apply_cache_hints
from ..wires.codecs import CODECS
from .chunking import DEFAULT_WINDOW

AUTO = "auto"
MIN_AUTO_WINDOW = 16_000
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CompactionModel:
    target: Target
    window: int
    max_output: int | None = None

    @property
    def key(self) -> str:
        return f"{self.target.spec.name}/{self.target.model}"


def choose_model(
    setting: str, *, router: Router, config: Config, env: Mapping[str, str], usable: Callable[[str], bool]
) -> CompactionModel:
    """The model ``setting`` names, or for ``"auto"`` the cheapest usable one (see module doc)."""
    if setting != AUTO:
        target = resolve_model(setting, config, env)
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
    spec = builtin_providers()[best.provider]
    target = Target(spec, best.model, base_url_for(spec, config, env))
    return CompactionModel(target, best.context_window or DEFAULT_WINDOW, best.max_output)


@dataclass(slots=True)
class GatewayModelCall:
    """One compaction prompt → the model's text, as a recorded gateway request."""

    upstream: UpstreamClient
    model: CompactionModel
    key: str | None
    breakers: BreakerBoard
    request_id: str
    recorder: Callable[[RequestRecord], None] | None = None
    # client / session / repo / branch / mode of the compaction request.
    context: dict[str, Any] = field(default_factory=dict)
    cache: CacheHints | None = None
    calls: int = 0

    async def __call__(self, system: str, prompt: str, *, max_tokens: int, label: str) -> tuple[str, Usage]:
        self.calls += 1
        target = self.model.target
        provider = target.spec.name
        record = RequestRecord(f"{self.request_id}-{self.calls}", "compact", client_model=self.model.key)
        chain: list[FallbackAttempt] = []
        record.context.update(
            self.context,
            requested=(provider, target.model),
            decision=RouteDecision("summary", 1.0, "compaction", {"compaction": True, "call": label}),
            chain=chain,
            plan_reasons=["compaction"],
            sticky=False,
        )
        record.on_finish = self.recorder
        record.provider, record.upstream_model, record.translated = provider, target.model, True
        try:
            text, usage = await self._send(record, system, prompt, max_tokens)
        except GatewayError as err:
            self.breakers.record(provider, err)
            chain.append(FallbackAttempt(provider, target.model, "error", err.kind))
            record.finish(error=err)
            raise
        self.breakers.record(provider, None)
        chain.append(FallbackAttempt(provider, target.model, "ok"))
        record.usage = usage
        record.finish(200)
        return text, usage

    async def _send(
        self, record: RequestRecord, system: str, prompt: str, max_tokens: int
    ) -> tuple[str, Usage]:
        target = self.model.target
        spec = target.spec
        if self.key is None and not spec.key_optional and spec.auth != "none":
            raise missing_key_error(spec)
        codec = CODECS[spec.translation_wire]
        request = GatewayRequest(
            protocol="chat",
            model=target.model,
            messages=[Message("user", [TextPart(prompt)])],
            system=[TextPart(system)],
            max_tokens=max_tokens,
        )
        body = codec.build(request, model=target.model, spec=spec, max_output_tokens=self.model.max_output)
        apply_cache_hints(body, codec.wire, spec, self.cache)
        resp = await self.upstream.open(
            "POST",
            require_base_url(target) + codec.path,
            headers=codec.headers(spec, self.key, stream=False),
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            provider=spec.name,
        )
        record.mark_first_byte()
        try:
            raw = await resp.read(MAX_BODY)
        finally:
            await resp.aclose()
        if resp.status >= 400:
            raise codec.error(resp.status, raw, resp.headers, spec.name)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise UpstreamProtocolError(f"{spec.name} returned invalid JSON", provider=spec.name) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"{spec.name} returned a non-object body", provider=spec.name)
        result = codec.parse(data, model=target.model)
        text = "".join(p.text for p in result.parts if isinstance(p, TextPart))
        return text, result.usage
