"""Prices (USD per million tokens) and the cost of one request's usage.

Owns: the PriceBook built from the shipped ``data/pricing.json`` plus the config's ``prices``
overrides (validated here), provider-name aliases (pricing.json says ``cloudflare-workers-ai``
where providers.json says ``cloudflare``), dated model ids (``claude-sonnet-4-5-20250929`` finds
``claude-sonnet-4-5``), and ``cost_of``: uncached input, cache writes, cache reads and output
priced separately. Entries marked ``uncertain`` stay usable but flag the cost as estimated.
Does not decide savings (``savings``). Pure apart from reading pricing.json once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from ..core.ir import Usage

PROVIDER_ALIASES = {"cloudflare-workers-ai": "cloudflare"}
# Providers that bill cache writes: an override without a write price gets 1.25x input.
WRITE_BILLING_PROVIDERS = frozenset({"anthropic"})
# Anthropic bills a 5-minute cache write at 1.25x input and a cache read at 0.1x input; used
# when an entry lists no cache price of its own.
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1
PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_5m_per_mtok")
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
class Price:
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    cache_write_5m_per_mtok: float | None = None
    uncertain: bool = False
    # "shipped" (pricing.json) or "config" (a user override).
    origin: str = "shipped"

    @property
    def cache_read(self) -> float:
        """Effective cache-read price (0.1x input when the entry lists none)."""
        if self.cached_input_per_mtok is not None:
            return self.cached_input_per_mtok
        return self.input_per_mtok * CACHE_READ_FACTOR

    @property
    def bills_cache_writes(self) -> bool:
        """True when the provider charges a premium for writing the prompt cache (Anthropic)."""
        return self.cache_write_5m_per_mtok is not None

    @property
    def cache_write(self) -> float:
        """Effective 5-minute cache-write price (1.25x input when the entry lists none)."""
        if self.cache_write_5m_per_mtok is not None:
            return self.cache_write_5m_per_mtok
        return self.input_per_mtok * CACHE_WRITE_FACTOR


@dataclass(frozen=True, slots=True)
class Cost:
    """USD for one request; the four parts sum to ``total``."""

    input: float = 0.0
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


def cost_of(price: Price | None, usage: Usage) -> Cost:
    """Price ``usage`` (``input_tokens`` excludes cache reads/writes; reasoning is part of output)."""
    if price is None:
        return UNPRICED
    return Cost(
        input=usage.input_tokens * price.input_per_mtok / _MTOK,
        cache_write=usage.cache_write_tokens * price.cache_write / _MTOK,
        cache_read=usage.cache_read_tokens * price.cache_read / _MTOK,
        output=usage.output_tokens * price.output_per_mtok / _MTOK,
        priced=True,
        estimated=price.uncertain or usage.estimated,
    )


def _number(path: str, value: object, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise PriceError(path, "expected a number >= 0 (USD per million tokens)")
    return float(value)


def validate_price_entry(key: str, raw: object, *, prefix: str = "prices") -> Price:
    """Check one ``prices`` override: input and output required, cache prices optional."""
    path = f"{prefix}.{key}"
    provider, sep, model = key.partition("/")
    if not sep or not provider or not model:
        raise PriceError(path, 'the key must be "provider/model"')
    if not isinstance(raw, Mapping):
        raise PriceError(path, "expected an object with " + ", ".join(PRICE_FIELDS))
    for name in raw:
        if name not in PRICE_FIELDS:
            raise PriceError(
                f"{path}.{name}", f"is not a known price field (known: {', '.join(PRICE_FIELDS)})"
            )
    for name in _REQUIRED:
        if name not in raw:
            raise PriceError(f"{path}.{name}", "is required")
    values = {n: _number(f"{path}.{n}", raw.get(n), optional=n not in _REQUIRED) for n in PRICE_FIELDS}
    return Price(
        input_per_mtok=values["input_per_mtok"] or 0.0,
        output_per_mtok=values["output_per_mtok"] or 0.0,
        cached_input_per_mtok=values["cached_input_per_mtok"],
        cache_write_5m_per_mtok=values["cache_write_5m_per_mtok"],
        uncertain=False,
        origin="config",
    )


def _key(provider: str, model: str) -> str:
    return f"{PROVIDER_ALIASES.get(provider, provider)}/{model}"


@cache
def _shipped() -> dict[str, Price]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("pricing.json").read_text("utf-8")
    out: dict[str, Price] = {}
    for entry in json.loads(text):
        if entry.get("input_per_mtok") is None or entry.get("output_per_mtok") is None:
            continue  # listed without a confirmed price: treated as unpriced
        write = entry.get("cache_write_5m_per_mtok", entry.get("cache_write_per_mtok"))
        out[_key(entry["provider"], entry["model"])] = Price(
            input_per_mtok=float(entry["input_per_mtok"]),
            output_per_mtok=float(entry["output_per_mtok"]),
            cached_input_per_mtok=entry.get("cached_input_per_mtok"),
            cache_write_5m_per_mtok=write,
            uncertain=bool(entry.get("uncertain", False)),
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

    def cost(self, provider: str, model: str, usage: Usage) -> Cost:
        return cost_of(self.get(provider, model), usage)

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
        if provider in WRITE_BILLING_PROVIDERS and price.cache_write_5m_per_mtok is None:
            price = replace(price, cache_write_5m_per_mtok=price.input_per_mtok * CACHE_WRITE_FACTOR)
        prices[_key(provider, model)] = price
    return PriceBook(prices=prices)
