"""Costs and savings: prices per provider/model (long-context tiers and the price conditions
they need included), the cost of one request's usage, and the cache-aware counterfactual that
turns shadow/live routing into a savings figure: per-model prompt-cache states
(``cache_state``) and the one counterfactual priced against them (``counterfactual``)
(docs/costs.md). Pure apart from reading the shipped ``pricing.json`` once."""

from .cache_state import CacheState, cache_identity
from .conditions import CONTEXT_1M, price_conditions
from .counterfactual import Counterfactual, assess, step
from .prices import (
    Cost,
    Price,
    PriceBook,
    PriceError,
    PriceTier,
    cost_of,
    load_pricebook,
    validate_price_entry,
)
from .savings import SavingsEstimate, estimate_live, estimate_shadow, rewrite_penalty, savings

__all__ = [
    "CONTEXT_1M",
    "CacheState",
    "Cost",
    "Counterfactual",
    "Price",
    "PriceBook",
    "PriceError",
    "PriceTier",
    "SavingsEstimate",
    "assess",
    "cache_identity",
    "cost_of",
    "estimate_live",
    "estimate_shadow",
    "load_pricebook",
    "price_conditions",
    "rewrite_penalty",
    "savings",
    "step",
    "validate_price_entry",
]
