"""Prices (USD per million tokens) and the cost of one request's usage.

Owns: the PriceBook built from the shipped ``data/pricing.json`` plus the config's ``prices``
overrides (validated here, every error naming its key path), provider-name aliases (pricing.json
says ``cloudflare-workers-ai`` where providers.json says ``cloudflare``), dated model ids
(``claude-sonnet-4-5-20250929`` finds ``claude-sonnet-4-5``), long-context tiers (``tiers``:
above a total input size, optionally only under a price condition, the WHOLE request bills at
other rates) and ``cost_of``: uncached input, cache writes by lifetime (5 minutes, 1 hour),
cache reads and output priced separately. Entries marked ``uncertain`` stay usable but flag the
cost as estimated. Does not decide savings (``savings``) nor read headers (``conditions``). Pure
apart from reading pricing.json once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from ..core.ir import Usage
from .conditions import KNOWN_CONDITIONS, NONE

PROVIDER_ALIASES = {"cloudflare-workers-ai": "cloudflare"}
# Providers that bill cache writes: an override without write prices gets 1.25x / 2x input.
WRITE_BILLING_PROVIDERS = frozenset({"anthropic"})
# Anthropic bills a 5-minute cache write at 1.25x input, a 1-hour write at 2x input and a cache
# read at 0.1x input; used when an entry lists no cache price of its own.
CACHE_WRITE_FACTOR = 1.25
CACHE_WRITE_1H_FACTOR = 2.0
CACHE_READ_FACTOR = 0.1
# The rates of an entry or a tier: (absolute field, multiplier field) per rate.
_RATES = (
    ("input_per_mtok", "input_multiplier"),
    ("output_per_mtok", "output_multiplier"),
    ("cached_input_per_mtok", "cached_input_multiplier"),
    ("cache_write_5m_per_mtok", "cache_write_5m_multiplier"),
    ("cache_write_1h_per_mtok", "cache_write_1h_multiplier"),
)
PRICE_FIELDS = tuple(absolute for absolute, _ in _RATES)
ENTRY_FIELDS = (*PRICE_FIELDS, "tiers")
TIER_FIELDS = ("above_input_tokens", "requires", *PRICE_FIELDS, *(m for _, m in _RATES))
_REQUIRED = ("input_per_mtok", "output_per_mtok")
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_MTOK = 1_000_000


class PriceError(ValueError):
    """A price entry is malformed; ``path`` is the dotted key path (``prices.<p/m>.<field>``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f'"{path}": {message}')
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Rates for a request whose total input exceeds ``above_input_tokens`` (and, when set,
    under the ``requires`` condition). Each rate is absolute, a multiplier of the base rate, or
    unset: output then stays, cache rates scale with input as the tier scales it."""

    above_input_tokens: int
    requires: str | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None
    cache_write_5m_per_mtok: float | None = None
    cache_write_1h_per_mtok: float | None = None
    input_multiplier: float | None = None
    output_multiplier: float | None = None
    cached_input_multiplier: float | None = None
    cache_write_5m_multiplier: float | None = None
    cache_write_1h_multiplier: float | None = None

    def applies(self, total_input_tokens: int, conditions: frozenset[str]) -> bool:
        return total_input_tokens > self.above_input_tokens and (
            self.requires is None or self.requires in conditions
        )

    def apply(self, base: Price) -> Price:
        """``base`` with this tier's rates (an unset cache price of ``base`` stays unset: its
        default follows the tier's input price)."""
        inp = _rate(self.input_per_mtok, self.input_multiplier, base.input_per_mtok, base.input_per_mtok, 1.0)
        assert inp is not None
        scale = inp / base.input_per_mtok if base.input_per_mtok else 1.0
        out = _rate(
            self.output_per_mtok, self.output_multiplier, base.output_per_mtok, base.output_per_mtok, 1.0
        )
        assert out is not None
        return replace(
            base,
            input_per_mtok=inp,
            output_per_mtok=out,
            cached_input_per_mtok=_rate(
                self.cached_input_per_mtok,
                self.cached_input_multiplier,
                base.cached_input_per_mtok,
                base.cache_read,
                scale,
            ),
            cache_write_5m_per_mtok=_rate(
                self.cache_write_5m_per_mtok,
                self.cache_write_5m_multiplier,
                base.cache_write_5m_per_mtok,
                base.cache_write,
                scale,
            ),
            cache_write_1h_per_mtok=_rate(
                self.cache_write_1h_per_mtok,
                self.cache_write_1h_multiplier,
                base.cache_write_1h_per_mtok,
                base.cache_write_1h,
                scale,
            ),
            tiers=(),
        )


def _rate(
    absolute: float | None, multiplier: float | None, listed: float | None, effective: float, scale: float
) -> float | None:
    """A tier's rate: absolute; else multiplier x the base's effective rate; else the listed rate
    scaled (None stays None)."""
    if absolute is not None:
        return absolute
    if multiplier is not None:
        return effective * multiplier
    return None if listed is None else listed * scale


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    cache_write_5m_per_mtok: float | None = None
    cache_write_1h_per_mtok: float | None = None
    uncertain: bool = False
    # "shipped" (pricing.json) or "config" (a user override).
    origin: str = "shipped"
    # Long-context tiers, lowest threshold first.
    tiers: tuple[PriceTier, ...] = ()

    @property
    def cache_read(self) -> float:
        """Effective cache-read price (0.1x input when the entry lists none)."""
        if self.cached_input_per_mtok is not None:
            return self.cached_input_per_mtok
        return self.input_per_mtok * CACHE_READ_FACTOR

    @property
    def bills_cache_writes(self) -> bool:
        """True when the provider charges a premium for writing the prompt cache (Anthropic)."""
        return self.cache_write_5m_per_mtok is not None or self.cache_write_1h_per_mtok is not None

    @property
    def cache_write(self) -> float:
        """Effective 5-minute cache-write price (1.25x input when the entry lists none)."""
        if self.cache_write_5m_per_mtok is not None:
            return self.cache_write_5m_per_mtok
        return self.input_per_mtok * CACHE_WRITE_FACTOR

    @property
    def cache_write_1h(self) -> float:
        """Effective 1-hour cache-write price (2x input when the entry lists none)."""
        if self.cache_write_1h_per_mtok is not None:
            return self.cache_write_1h_per_mtok
        return self.input_per_mtok * CACHE_WRITE_1H_FACTOR

    def at(self, total_input_tokens: int, conditions: frozenset[str] = NONE) -> Price:
        """The rates billing a whole request of ``total_input_tokens`` (uncached + cache writes +
        cache reads) under ``conditions``: the highest tier it passes, else these."""
        for tier in reversed(self.tiers):
            if tier.applies(total_input_tokens, conditions):
                return tier.apply(self)
        return self


@dataclass(frozen=True, slots=True)
class Cost:
    """USD for one request; the four parts sum to ``total``."""

    input: float = 0.0
    # 5-minute and 1-hour writes together.
    cache_write: float = 0.0
    cache_read: float = 0.0
    output: float = 0.0
    # False: the model has no price, every figure is 0 and must be shown as "unknown".
    priced: bool = True
    # True: the price is marked uncertain or the token counts were estimated.
    estimated: bool = False

    @property
    def total(self) -> float:
        return self.input + self.cache_write + self.cache_read + self.output


UNPRICED = Cost(priced=False)


def cost_of(price: Price | None, usage: Usage, conditions: frozenset[str] = NONE) -> Cost:
    """Price ``usage`` (``input_tokens`` excludes cache reads/writes; reasoning is part of output).

    A tier the request passes (by its total input, under ``conditions``) prices all of it.
    """
    if price is None:
        return UNPRICED
    rates = price.at(usage.total_input_tokens, conditions) if price.tiers else price
    one_hour = usage.cache_write_1h_tokens
    return Cost(
        input=usage.input_tokens * rates.input_per_mtok / _MTOK,
        cache_write=(usage.cache_write_5m_tokens * rates.cache_write + one_hour * rates.cache_write_1h)
        / _MTOK,
        cache_read=usage.cache_read_tokens * rates.cache_read / _MTOK,
        output=usage.output_tokens * rates.output_per_mtok / _MTOK,
        priced=True,
        estimated=price.uncertain or usage.estimated,
    )


# --- validation (config overrides and the shipped file alike) --------------------------------


def _number(path: str, value: object, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise PriceError(path, "expected a number >= 0 (USD per million tokens)")
    return float(value)


def _multiplier(path: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value <= 0:
        raise PriceError(path, "expected a number > 0 (a multiplier of the base rate)")
    return float(value)


def _tier(path: str, raw: object) -> PriceTier:
    if not isinstance(raw, Mapping):
        raise PriceError(path, "expected an object with above_input_tokens and rates")
    for name in raw:
        if name not in TIER_FIELDS:
            raise PriceError(f"{path}.{name}", f"is not a known tier field (known: {', '.join(TIER_FIELDS)})")
    above = raw.get("above_input_tokens")
    if isinstance(above, bool) or not isinstance(above, int) or above < 0:
        raise PriceError(f"{path}.above_input_tokens", "expected a whole number of tokens >= 0")
    requires = raw.get("requires")
    if requires is not None and requires not in KNOWN_CONDITIONS:
        raise PriceError(
            f"{path}.requires", f"is not a known condition (known: {', '.join(sorted(KNOWN_CONDITIONS))})"
        )
    values: dict[str, float | None] = {}
    for absolute, multiplier in _RATES:
        if absolute in raw and multiplier in raw:
            raise PriceError(f"{path}.{multiplier}", f"give either {absolute} or {multiplier}, not both")
        values[absolute] = _number(f"{path}.{absolute}", raw.get(absolute), optional=True)
        values[multiplier] = (
            _multiplier(f"{path}.{multiplier}", raw[multiplier]) if multiplier in raw else None
        )
    if all(v is None for v in values.values()):
        raise PriceError(path, "a tier needs at least one rate (…_per_mtok or …_multiplier)")
    return PriceTier(above_input_tokens=above, requires=requires, **values)


def _tiers(path: str, raw: object) -> tuple[PriceTier, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PriceError(path, "expected a list of tiers")
    tiers = [_tier(f"{path}.{i}", t) for i, t in enumerate(raw)]
    seen: set[tuple[int, str | None]] = set()
    for i, tier in enumerate(tiers):
        key = (tier.above_input_tokens, tier.requires)
        if key in seen:
            raise PriceError(f"{path}.{i}", "another tier has the same above_input_tokens and requires")
        seen.add(key)
    return tuple(sorted(tiers, key=lambda t: t.above_input_tokens))


def _rates(path: str, raw: Mapping[str, object]) -> dict[str, float | None]:
    for name in _REQUIRED:
        if name not in raw:
            raise PriceError(f"{path}.{name}", "is required")
    return {n: _number(f"{path}.{n}", raw.get(n), optional=n not in _REQUIRED) for n in PRICE_FIELDS}


def validate_price_entry(key: str, raw: object, *, prefix: str = "prices") -> Price:
    """Check one ``prices`` override: input and output required, cache prices and tiers optional."""
    path = f"{prefix}.{key}"
    provider, sep, model = key.partition("/")
    if not sep or not provider or not model:
        raise PriceError(path, 'the key must be "provider/model"')
    if not isinstance(raw, Mapping):
        raise PriceError(path, "expected an object with " + ", ".join(ENTRY_FIELDS))
    for name in raw:
        if name not in ENTRY_FIELDS:
            raise PriceError(
                f"{path}.{name}", f"is not a known price field (known: {', '.join(ENTRY_FIELDS)})"
            )
    values = _rates(path, raw)
    return Price(
        input_per_mtok=values["input_per_mtok"] or 0.0,
        output_per_mtok=values["output_per_mtok"] or 0.0,
        cached_input_per_mtok=values["cached_input_per_mtok"],
        cache_write_5m_per_mtok=values["cache_write_5m_per_mtok"],
        cache_write_1h_per_mtok=values["cache_write_1h_per_mtok"],
        uncertain=False,
        origin="config",
        tiers=_tiers(f"{path}.tiers", raw.get("tiers")),
    )


def _key(provider: str, model: str) -> str:
    return f"{PROVIDER_ALIASES.get(provider, provider)}/{model}"


@cache
def _shipped() -> dict[str, Price]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("pricing.json").read_text("utf-8")
    out: dict[str, Price] = {}
    for i, entry in enumerate(json.loads(text)):
        if entry.get("input_per_mtok") is None or entry.get("output_per_mtok") is None:
            continue  # listed without a confirmed price: treated as unpriced
        path = f"pricing.json[{i}]"
        values = _rates(path, entry)
        out[_key(entry["provider"], entry["model"])] = Price(
            input_per_mtok=values["input_per_mtok"] or 0.0,
            output_per_mtok=values["output_per_mtok"] or 0.0,
            cached_input_per_mtok=values["cached_input_per_mtok"],
            cache_write_5m_per_mtok=values["cache_write_5m_per_mtok"],
            cache_write_1h_per_mtok=values["cache_write_1h_per_mtok"],
            uncertain=bool(entry.get("uncertain", False)),
            tiers=_tiers(f"{path}.tiers", entry.get("tiers")),
        )
    return out


@dataclass(frozen=True, slots=True)
class PriceBook:
    prices: Mapping[str, Price] = field(default_factory=dict)

    def get(self, provider: str, model: str) -> Price | None:
        key = _key(provider, model)
        found = self.prices.get(key)
        if found is None and _DATE_SUFFIX.search(model):
            found = self.prices.get(_key(provider, _DATE_SUFFIX.sub("", model)))
        return found

    def cost(self, provider: str, model: str, usage: Usage, conditions: frozenset[str] = NONE) -> Cost:
        return cost_of(self.get(provider, model), usage, conditions)

    def uncertain(self, provider: str, model: str) -> bool:
        """True when the price is flagged uncertain or unknown (the UI says "estimated")."""
        price = self.get(provider, model)
        return price is None or price.uncertain


def load_pricebook(overrides: Mapping[str, Mapping[str, object]] | None = None) -> PriceBook:
    """Shipped prices with the config's ``prices`` section laid over them (whole entries)."""
    prices = dict(_shipped())
    for key, raw in (overrides or {}).items():
        price = validate_price_entry(key, raw)
        provider, _, model = key.partition("/")
        if provider in WRITE_BILLING_PROVIDERS:
            price = replace(
                price,
                cache_write_5m_per_mtok=price.cache_write,
                cache_write_1h_per_mtok=price.cache_write_1h,
            )
        prices[_key(provider, model)] = price
    return PriceBook(prices=prices)
