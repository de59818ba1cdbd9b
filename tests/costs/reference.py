"""The tests' own cost function, written from the billing rules in COSTS.md §1 — never from the
product's price book (nothing here imports ``stackbilt_gateway.daemon.costs``).

Owns: reading list prices from ``tests/data/pricing_reference.json`` (a verbatim copy of the
shared ``pricing.json``), turning a provider's ``usage`` object into the five billed buckets
(uncached input, 5-minute write, 1-hour write, cache read, output), and pricing them:

- Anthropic: uncached at the input price; writes at the entry's 5-minute / 1-hour write prices
  (1.25x / 2x input where an entry lists none); reads at the cached price (0.1x input where
  none); output (thinking included) at the output price. ``cache_creation`` splits the writes;
  a usage without the split bills every write as 5-minute (what the API meant before the split).
- OpenAI Responses / Chat: ``input_tokens`` / ``prompt_tokens`` is the TOTAL and includes
  ``cached_tokens``: uncached = total - cached, billed at the input price; cached at the cached
  price (the input price where an entry lists none: no discount is known); output includes
  reasoning and is billed once.
- Long-context tiers, written by hand in ``TIERS`` from COSTS.md and the price notes of the copy:
  Sonnet 4 / 4.5 with the ``context-1m-2025-08-07`` beta above 200 000 total input tokens
  (uncached + writes + reads) bill the whole request at 2x input (reads and writes scale with
  it) and 1.5x output; the OpenAI models whose notes state a ``>272K`` (``>200K``) tier bill the
  whole request at the stated input / output / cached prices; Haiku 5.5 above 100k at its
  stated prices, with writes scaled like the input (the note states no write price).
  "Above" is strict: exactly at the threshold the base rates apply.

Does not own which usage a request produced (the cache-faithful fake reports it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent.parent / "data" / "pricing_reference.json"
LONG_CONTEXT_BETA = "context-1m-2025-08-07"
PROVIDER_ALIASES = {"cloudflare": "cloudflare-workers-ai"}  # providers.json name → pricing.json name
_DATE = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_MTOK = 1_000_000


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each bucket."""

    input: float
    output: float
    cache_read: float
    write_5m: float
    write_1h: float

    def scaled(self, input_factor: float, output_factor: float) -> Rates:
        return Rates(
            self.input * input_factor,
            self.output * output_factor,
            self.cache_read * input_factor,
            self.write_5m * input_factor,
            self.write_1h * input_factor,
        )


@dataclass(frozen=True)
class Tier:
    """Above ``above`` total input tokens (and with ``needs_beta`` sent, if set) the whole
    request is billed at ``rates(base)``."""

    above: int
    input: float  # absolute price, or a factor of the base price when ``factors``
    output: float
    cache_read: float
    factors: bool = False
    needs_beta: str | None = None

    def rates(self, base: Rates) -> Rates:
        if self.factors:
            return base.scaled(self.input, self.output)
        ratio = self.input / base.input  # writes are not stated by the notes: they scale with the input
        return Rates(self.input, self.output, self.cache_read, base.write_5m * ratio, base.write_1h * ratio)


_SONNET_1M = Tier(200_000, 2.0, 1.5, 2.0, factors=True, needs_beta=LONG_CONTEXT_BETA)
# Hand-written from COSTS.md §1 and the `note` fields of pricing_reference.json.
TIERS: dict[str, Tier] = {
    "anthropic/claude-sonnet-4": _SONNET_1M,
    "anthropic/claude-sonnet-4-0": _SONNET_1M,
    "anthropic/claude-sonnet-4-5": _SONNET_1M,
    "anthropic/claude-haiku-5-5": Tier(100_000, 0.50, 2.50, 0.05),
    "openai/gpt-5.5": Tier(272_000, 10.0, 45.0, 1.00),
    "openai/gpt-5.4": Tier(272_000, 5.0, 22.50, 0.50),
    "openai/gpt-5.6-sol": Tier(272_000, 10.0, 45.0, 1.00),
    "openai/gpt-5.6-terra": Tier(272_000, 4.0, 18.0, 0.40),
    "openai/gpt-5.6-luna": Tier(200_000, 0.40, 1.80, 0.04),
}


@dataclass(frozen=True)
class Buckets:
    """One request's billed token buckets."""

    uncached: int = 0
    write_5m: int = 0
    write_1h: int = 0
    read: int = 0
    output: int = 0

    @property
    def total_input(self) -> int:
        return self.uncached + self.write_5m + self.write_1h + self.read


def anthropic_buckets(usage: Mapping[str, Any]) -> Buckets:
    written = int(usage.get("cache_creation_input_tokens") or 0)
    split = usage.get("cache_creation")
    if isinstance(split, Mapping):
        w5 = int(split.get("ephemeral_5m_input_tokens") or 0)
        w1 = int(split.get("ephemeral_1h_input_tokens") or 0)
        if w5 + w1 != written:
            raise ValueError(f"cache_creation split {w5} + {w1} != cache_creation_input_tokens {written}")
    else:
        w5, w1 = written, 0
    return Buckets(
        uncached=int(usage.get("input_tokens") or 0),
        write_5m=w5,
        write_1h=w1,
        read=int(usage.get("cache_read_input_tokens") or 0),
        output=int(usage.get("output_tokens") or 0),
    )


def openai_buckets(usage: Mapping[str, Any]) -> Buckets:
    """Responses (``input_tokens``) or Chat (``prompt_tokens``) usage: cached is inside the total."""
    if "prompt_tokens" in usage:
        total, details, output = (
            usage["prompt_tokens"],
            usage.get("prompt_tokens_details"),
            "completion_tokens",
        )
    else:
        total, details, output = usage.get("input_tokens"), usage.get("input_tokens_details"), "output_tokens"
    cached = int((details or {}).get("cached_tokens") or 0)
    total = int(total or 0)
    if cached > total:
        raise ValueError(f"cached_tokens {cached} > total input {total}")
    return Buckets(uncached=total - cached, read=cached, output=int(usage.get(output) or 0))


def buckets_of(wire: str, usage: Mapping[str, Any]) -> Buckets:
    return anthropic_buckets(usage) if wire == "anthropic" else openai_buckets(usage)


def _base_rates(entry: Mapping[str, Any]) -> Rates | None:
    price_in, price_out = entry.get("input_per_mtok"), entry.get("output_per_mtok")
    if price_in is None or price_out is None:
        return None
    anthropic = entry["provider"] == "anthropic"
    read = entry.get("cached_input_per_mtok")
    if read is None:
        read = price_in * 0.1 if anthropic else price_in
    w5 = entry.get("cache_write_5m_per_mtok", entry.get("cache_write_per_mtok"))
    w1 = entry.get("cache_write_1h_per_mtok")
    return Rates(
        input=float(price_in),
        output=float(price_out),
        cache_read=float(read),
        write_5m=float(w5) if w5 is not None else (price_in * 1.25 if anthropic else 0.0),
        write_1h=float(w1) if w1 is not None else (price_in * 2.0 if anthropic else 0.0),
    )


@cache
def price_list(path: Path = PRICES) -> dict[str, Rates]:
    """``provider/model`` → base rates, for every entry of the copy that has a price."""
    out: dict[str, Rates] = {}
    for entry in json.loads(path.read_text("utf-8")):
        rates = _base_rates(entry)
        if rates is not None:
            out[f"{entry['provider']}/{entry['model']}"] = rates
    return out


def _key(provider: str, model: str, table: Mapping[str, object]) -> str | None:
    provider = PROVIDER_ALIASES.get(provider, provider)
    for name in (model, _DATE.sub("", model)):
        if f"{provider}/{name}" in table:
            return f"{provider}/{name}"
    return None


def rates_for(provider: str, model: str, buckets: Buckets, betas: frozenset[str] = frozenset()) -> Rates:
    """The rates that bill this request (base, or a long-context tier). KeyError: no price."""
    prices = price_list()
    key = _key(provider, model, prices)
    if key is None:
        raise KeyError(f"no reference price for {provider}/{model}")
    base = prices[key]
    tier_key = _key(provider, model, TIERS)
    tier = TIERS.get(tier_key) if tier_key else None
    if tier is None or buckets.total_input <= tier.above:
        return base
    if tier.needs_beta is not None and tier.needs_beta not in betas:
        return base
    return tier.rates(base)


def reference_cost(provider: str, model: str, buckets: Buckets, betas: frozenset[str] = frozenset()) -> float:
    """USD for one request's buckets."""
    r = rates_for(provider, model, buckets, betas)
    return (
        buckets.uncached * r.input
        + buckets.write_5m * r.write_5m
        + buckets.write_1h * r.write_1h
        + buckets.read * r.cache_read
        + buckets.output * r.output
    ) / _MTOK
