"""Cache-aware savings against hand-computed cases (the worked examples of docs/costs.md)."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs import (
    Cost,
    estimate_live,
    estimate_shadow,
    load_pricebook,
    rewrite_penalty,
    savings,
)

SONNET = ("anthropic", "claude-sonnet-4-5")  # 3 / 15, read 0.30, write 3.75
OSS = ("groq", "openai/gpt-oss-120b")  # 0.15 / 0.60, read 0.075
CACHED_TURN = Usage(input_tokens=2_000, cache_write_tokens=1_000, cache_read_tokens=50_000, output_tokens=800)


def test_savings_formula() -> None:
    assert savings(Cost(input=1.0), Cost(input=0.25), 0.5) == 0.25
    assert savings(Cost(input=1.0), Cost(priced=False), 0.0) == 0.0


def test_shadow_cached_turn_forfeits_cache_and_pays_the_rewrite() -> None:
    est = estimate_shadow(load_pricebook(), SONNET, CACHED_TURN, OSS)
    # premium: 2000x3 + 1000x3.75 + 50000x0.30 + 800x15 = 0.006 + 0.00375 + 0.015 + 0.012
    assert est.premium.total == pytest.approx(0.03675)
    # routed: all 53 000 prompt tokens uncached at 0.15, 800 output at 0.60
    assert est.routed.input == pytest.approx(0.00795) and est.routed.cache_read == 0
    assert est.routed.total == pytest.approx(0.00843)
    # penalty: (3.75 - 0.30) x 50 000 / 1e6
    assert est.rewrite_penalty == pytest.approx(0.1725)
    assert est.savings == pytest.approx(0.03675 - 0.00843 - 0.1725)  # negative: stay put
    assert est.actual is est.premium and est.counterfactual is est.routed and est.priced


def test_shadow_sticky_on_the_cheap_provider_keeps_its_cache_price() -> None:
    est = estimate_shadow(load_pricebook(), SONNET, CACHED_TURN, OSS, sticky_to_would=True)
    # 50 000 x 0.075 + 3 000 x 0.15 + 800 x 0.60
    assert est.routed.cache_read == pytest.approx(0.00375)
    assert est.routed.total == pytest.approx(0.00375 + 0.00045 + 0.00048)
    assert est.savings == pytest.approx(0.03675 - 0.00468 - 0.1725)


def test_sticky_without_a_cached_price_bills_uncached() -> None:
    est = estimate_shadow(
        load_pricebook(), SONNET, CACHED_TURN, ("groq", "llama-3.1-8b-instant"), sticky_to_would=True
    )
    assert est.routed.cache_read == 0 and est.routed.input == pytest.approx(53_000 * 0.05 / 1e6)


def test_shadow_uncached_housekeeping_turn_saves() -> None:
    title = Usage(input_tokens=900, output_tokens=20)
    est = estimate_shadow(
        load_pricebook(), ("anthropic", "claude-opus-5"), title, ("groq", "llama-3.1-8b-instant")
    )
    # 900x5 + 20x25 = 0.005 premium; 900x0.05 + 20x0.08 = 0.0000466 routed; no cache, no penalty
    assert est.premium.total == pytest.approx(0.005)
    assert est.routed.total == pytest.approx(0.0000466)
    assert est.rewrite_penalty == 0.0
    assert est.savings == pytest.approx(0.0049534)


def test_shadow_without_a_different_route_saves_nothing() -> None:
    book = load_pricebook()
    assert estimate_shadow(book, SONNET, CACHED_TURN, None).savings == 0.0
    assert estimate_shadow(book, SONNET, CACHED_TURN, SONNET).rewrite_penalty == 0.0


def test_live_routed_turn_against_a_cached_premium() -> None:
    usage = Usage(input_tokens=53_000, output_tokens=800)
    est = estimate_live(load_pricebook(), OSS, usage, SONNET, premium_cached_tokens=50_000)
    assert est.routed.total == pytest.approx(0.00843)
    # premium would have read 50 000 (x0.30), written the other 3 000 (x3.75), output 800 x15
    assert est.premium.total == pytest.approx(0.015 + 0.01125 + 0.012)
    assert est.rewrite_penalty == pytest.approx(0.1725)
    assert est.savings == pytest.approx(0.03825 - 0.00843 - 0.1725)
    assert est.actual is est.routed and est.counterfactual is est.premium


def test_live_routed_turn_with_a_cold_premium_cache_saves() -> None:
    usage = Usage(input_tokens=53_000, output_tokens=800)
    est = estimate_live(load_pricebook(), OSS, usage, SONNET)
    # premium writes all 53 000 (x3.75) + output 800 x15; no penalty
    assert est.premium.total == pytest.approx(0.19875 + 0.012)
    assert est.savings == pytest.approx(0.21075 - 0.00843)


def test_openai_premium_has_no_rewrite_penalty() -> None:
    usage = Usage(input_tokens=10_000, cache_read_tokens=30_000, output_tokens=1_000)
    book = load_pricebook()
    est = estimate_live(
        book, ("openai", "gpt-5.4-mini"), usage, ("openai", "gpt-5.5"), premium_cached_tokens=30_000
    )
    # routed: 10 000 x0.75 + 30 000 x0.075 + 1 000 x4.5
    assert est.routed.total == pytest.approx(0.0075 + 0.00225 + 0.0045)
    # premium: 30 000 read x0.50 + 10 000 uncached x5 + 1 000 x30 (OpenAI bills no writes)
    assert est.premium.total == pytest.approx(0.015 + 0.05 + 0.03)
    assert est.rewrite_penalty == 0.0
    assert est.savings == pytest.approx(0.095 - 0.01425)


def test_live_served_as_requested_saves_nothing() -> None:
    est = estimate_live(load_pricebook(), SONNET, CACHED_TURN, SONNET, premium_cached_tokens=50_000)
    assert est.savings == 0.0 and est.rewrite_penalty == 0.0


def test_unpriced_sides_give_zero_savings() -> None:
    est = estimate_shadow(load_pricebook(), SONNET, CACHED_TURN, ("deepseek", "deepseek-chat"))
    assert not est.priced and est.savings == 0.0


def test_rewrite_penalty_helper() -> None:
    price = load_pricebook().get(*SONNET)
    assert rewrite_penalty(price, 1_000_000) == pytest.approx(3.45)
    assert rewrite_penalty(price, 0) == 0.0
    assert rewrite_penalty(None, 1_000) == 0.0
