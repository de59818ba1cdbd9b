"""Costs and savings: prices per provider/model, the cost of one request's usage, and the
cache-aware counterfactual that turns shadow/live routing into a savings figure (docs/costs.md).
Pure apart from reading the shipped ``pricing.json`` once."""

from .prices import Cost, Price, PriceBook, PriceError, cost_of, load_pricebook, validate_price_entry
from .savings import SavingsEstimate, estimate_live, estimate_shadow, rewrite_penalty, savings

__all__ = [
    "Cost",
    "Price",
    "PriceBook",
    "PriceError",
    "SavingsEstimate",
    "cost_of",
    "estimate_live",
    "estimate_shadow",
    "load_pricebook",
    "rewrite_penalty",
    "savings",
    "validate_price_entry",
]
