"""Costs and savings: prices per provider/model (long-context tiers and the price conditions
they need included), the cost of one request's usage, and the cache-aware counterfactual that
turns shadow/live routing into a savings figure (docs/costs.md). Pure apart from reading the
shipped ``pricing.json`` once."""

from .conditions import CONTEXT_1M, price_conditions
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
    "Cost",
    "Price",
    "PriceBook",
    "PriceError",
    "PriceTier",
    "SavingsEstimate",
    "cost_of",
    "estimate_live",
    "estimate_shadow",
    "load_pricebook",
    "price_conditions",
    "rewrite_penalty",
    "savings",
    "validate_price_entry",
]
