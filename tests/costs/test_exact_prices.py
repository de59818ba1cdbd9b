"""Exact spend: cache writes priced by lifetime, long-context tiers with their condition, the
price conditions read from headers, overrides that express all of it (and their errors), and a
shipped price file that is data only.

Every expected cost is computed by hand from the rates written in the test (per million tokens),
never by asking the product's price book.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs import (
    CONTEXT_1M,
    PriceError,
    estimate_shadow,
    load_pricebook,
    price_conditions,
    validate_price_entry,
)

M = 1_000_000
BETA_1M = frozenset({CONTEXT_1M})


def usage(uncached: int, w5: int, w1h: int, read: int, out: int) -> Usage:
    return Usage(
        input_tokens=uncached,
        cache_write_tokens=w5 + w1h,
        cache_write_1h_tokens=w1h,
        cache_read_tokens=read,
        output_tokens=out,
    )


# --- 1-hour cache writes ------------------------------------------------------------------------


def test_shipped_sonnet_45_bills_1h_writes_at_2x_input() -> None:
    # claude-sonnet-4-5: input 3, output 15, read 0.30, 5-minute write 3.75, 1-hour write 6
    u = usage(1_000, 2_000, 8_000, 10_000, 500)
    cost = load_pricebook().cost("anthropic", "claude-sonnet-4-5", u)
    assert cost.input == pytest.approx(1_000 * 3 / M)
    assert cost.cache_write == pytest.approx((2_000 * 3.75 + 8_000 * 6) / M)
    assert cost.cache_read == pytest.approx(10_000 * 0.30 / M)
    assert cost.output == pytest.approx(500 * 15 / M)
    assert cost.total == pytest.approx((3_000 + 7_500 + 48_000 + 3_000 + 7_500) / M)


def test_shipped_opus_45_1h_writes() -> None:
    # claude-opus-4-5: input 5, output 25, read 0.50, 5-minute write 6.25, 1-hour write 10
    u = usage(0, 0, 100_000, 0, 1_500)
    assert load_pricebook().cost("anthropic", "claude-opus-4-5", u).total == pytest.approx(
        (100_000 * 10 + 1_500 * 25) / M
    )


def test_override_1h_price_and_its_defaults() -> None:
    book = load_pricebook(
        {
            "anthropic/custom-a": {"input_per_mtok": 4, "output_per_mtok": 20, "cache_write_1h_per_mtok": 7},
            "anthropic/custom-b": {"input_per_mtok": 4, "output_per_mtok": 20},
            "deepseek/custom-c": {"input_per_mtok": 2, "output_per_mtok": 8},
        }
    )
    u = usage(0, 1_000_000, 1_000_000, 0, 0)
    # a: 5-minute default 1.25 x 4 = 5; 1-hour as given, 7
    assert book.cost("anthropic", "custom-a", u).cache_write == pytest.approx(5 + 7)
    # b: 5-minute 1.25 x 4 = 5; 1-hour 2 x 4 = 8
    assert book.cost("anthropic", "custom-b", u).cache_write == pytest.approx(5 + 8)
    # c: a provider without write billing still has the same defaults: 2.5 + 4
    assert book.cost("deepseek", "custom-c", u).cache_write == pytest.approx(2.5 + 4)


# --- long-context tiers -------------------------------------------------------------------------

# A Claude Code turn of 230 000 input tokens (uncached 10k, 5-minute writes 20k, 1-hour writes
# 150k, reads 50k) and 2 000 output tokens.
BIG = usage(10_000, 20_000, 150_000, 50_000, 2_000)


def test_sonnet_45_above_200k_with_the_1m_beta_bills_the_whole_request_at_the_long_context_rates() -> None:
    # 2 x input (6), cache rates scaled with it (read 0.60, 5m 7.50, 1h 12), 1.5 x output (22.50)
    cost = load_pricebook().cost("anthropic", "claude-sonnet-4-5-20250929", BIG, BETA_1M)
    assert cost.input == pytest.approx(10_000 * 6 / M)
    assert cost.cache_write == pytest.approx((20_000 * 7.5 + 150_000 * 12) / M)
    assert cost.cache_read == pytest.approx(50_000 * 0.6 / M)
    assert cost.output == pytest.approx(2_000 * 22.5 / M)
    assert cost.total == pytest.approx(2.085)


def test_sonnet_45_without_the_beta_or_at_200k_keeps_the_base_rates() -> None:
    base = (10_000 * 3 + 20_000 * 3.75 + 150_000 * 6 + 50_000 * 0.3 + 2_000 * 15) / M
    book = load_pricebook()
    assert book.cost("anthropic", "claude-sonnet-4-5", BIG).total == pytest.approx(base)
    assert base == pytest.approx(1.05)
    exactly = usage(0, 0, 0, 200_000, 100)  # 200 000 is not above 200 000
    assert book.cost("anthropic", "claude-sonnet-4-5", exactly, BETA_1M).total == pytest.approx(
        (200_000 * 0.3 + 100 * 15) / M
    )
    one_more = usage(1, 0, 0, 200_000, 100)
    assert book.cost("anthropic", "claude-sonnet-4-5", one_more, BETA_1M).total == pytest.approx(
        (1 * 6 + 200_000 * 0.6 + 100 * 22.5) / M
    )


def test_models_without_a_tier_ignore_the_condition() -> None:
    # claude-sonnet-4-6: flat 3 / 15 / 0.30 / 3.75 / 6 whatever the size
    cost = load_pricebook().cost("anthropic", "claude-sonnet-4-6", BIG, BETA_1M)
    assert cost.total == pytest.approx(1.05)


def test_gpt_55_above_272k_needs_no_condition() -> None:
    # gpt-5.5: 5 / 30 / cached 0.50; above 272 000 input tokens 10 / 45 / cached 1.00.
    # OpenAI usage: input_tokens excludes the cached part in the IR.
    small = Usage(input_tokens=100_000, cache_read_tokens=172_000, output_tokens=1_000)
    big = Usage(input_tokens=100_000, cache_read_tokens=172_001, output_tokens=1_000)
    book = load_pricebook()
    assert book.cost("openai", "gpt-5.5", small).total == pytest.approx(
        (100_000 * 5 + 172_000 * 0.5 + 1_000 * 30) / M
    )
    assert book.cost("openai", "gpt-5.5", big).total == pytest.approx(
        (100_000 * 10 + 172_001 * 1.0 + 1_000 * 45) / M
    )


def test_gpt_54_tier_from_its_former_note() -> None:
    # gpt-5.4 above 272K: 5 / 22.50 / cached 0.50
    u = Usage(input_tokens=300_000, output_tokens=2_000)
    assert load_pricebook().cost("openai", "gpt-5.4", u).total == pytest.approx(
        (300_000 * 5 + 2_000 * 22.5) / M
    )


def test_override_tiers_absolute_multiplier_and_several_thresholds() -> None:
    book = load_pricebook(
        {
            "groq/tiered": {
                "input_per_mtok": 1,
                "output_per_mtok": 2,
                "cached_input_per_mtok": 0.5,
                "tiers": [
                    {"above_input_tokens": 500_000, "input_per_mtok": 4, "output_per_mtok": 5},
                    {"above_input_tokens": 100_000, "input_multiplier": 2, "cached_input_per_mtok": 0.6},
                ],
            },
            "anthropic/beta-only": {
                "input_per_mtok": 2,
                "output_per_mtok": 10,
                "tiers": [
                    {"above_input_tokens": 1_000, "requires": CONTEXT_1M, "output_multiplier": 3},
                ],
            },
        }
    )
    # below every tier: 1 / 2 / 0.5
    assert book.cost("groq", "tiered", Usage(input_tokens=50_000, output_tokens=10)).total == pytest.approx(
        (50_000 * 1 + 10 * 2) / M
    )
    # above 100k: input 2, output unchanged 2, cached as given 0.6
    mid = Usage(input_tokens=60_000, cache_read_tokens=50_000, output_tokens=10)
    assert book.cost("groq", "tiered", mid).total == pytest.approx((60_000 * 2 + 50_000 * 0.6 + 10 * 2) / M)
    # above 500k: input 4, output 5, cached scaled with input: 0.5 x 4 = 2
    top = Usage(input_tokens=400_000, cache_read_tokens=200_000, output_tokens=10)
    assert book.cost("groq", "tiered", top).total == pytest.approx((400_000 * 4 + 200_000 * 2 + 10 * 5) / M)
    # the beta-only tier: output x3; the input side (and write defaults) unchanged: 5m 2.5, 1h 4
    u = usage(2_000, 1_000, 1_000, 0, 100)
    with_beta = (2_000 * 2 + 1_000 * 2.5 + 1_000 * 4 + 100 * 30) / M
    without = (2_000 * 2 + 1_000 * 2.5 + 1_000 * 4 + 100 * 10) / M
    assert book.cost("anthropic", "beta-only", u, BETA_1M).total == pytest.approx(with_beta)
    assert book.cost("anthropic", "beta-only", u).total == pytest.approx(without)


def test_shadow_savings_price_both_sides_under_the_condition() -> None:
    # Served Sonnet 4.5 (tiered, above), would have gone to Haiku 4.5 (1 / 5, no tier): the
    # routed side re-bills all 230 000 tokens as uncached input.
    est = estimate_shadow(
        load_pricebook(),
        ("anthropic", "claude-sonnet-4-5"),
        BIG,
        ("anthropic", "claude-haiku-4-5"),
        conditions=BETA_1M,
    )
    assert est.actual.total == pytest.approx(2.085)
    assert est.routed.total == pytest.approx((230_000 * 1 + 2_000 * 5) / M)
    # the rewrite penalty of the 50 000 read tokens at the tier's rates: (7.50 - 0.60)
    assert est.rewrite_penalty == pytest.approx((7.5 - 0.6) * 50_000 / M)


# --- the condition from headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("context-1m-2025-08-07", BETA_1M),
        ("claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14", BETA_1M),
        ("claude-code-20250219, Context-1M-2026-01-01", BETA_1M),
        ("claude-code-20250219,interleaved-thinking-2025-05-14", frozenset()),
        ("not-context-1m-2025", frozenset()),
        ("", frozenset()),
    ],
)
def test_price_conditions_from_the_anthropic_beta_header(header: str, expected: frozenset[str]) -> None:
    assert price_conditions({"anthropic-beta": header}) == expected
    assert price_conditions({}) == frozenset()


# --- override errors name the key path ----------------------------------------------------------


def _tiered(**tier: Any) -> dict[str, Any]:
    return {"input_per_mtok": 1, "output_per_mtok": 1, "tiers": [tier]}


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"input_per_mtok": 1, "output_per_mtok": 1, "cache_write_1h_per_mtok": -1},
         "prices.anthropic/x.cache_write_1h_per_mtok", "expected a number >= 0"),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "tiers": {"above_input_tokens": 1}},
         "prices.anthropic/x.tiers", "expected a list of tiers"),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "tiers": [3]},
         "prices.anthropic/x.tiers.0", "expected an object"),
        (_tiered(input_multiplier=2), "prices.anthropic/x.tiers.0.above_input_tokens", "whole number"),
        (_tiered(above_input_tokens=-1, input_multiplier=2), "prices.anthropic/x.tiers.0.above_input_tokens",
         "whole number"),
        (_tiered(above_input_tokens=1.5, input_multiplier=2), "prices.anthropic/x.tiers.0.above_input_tokens",
         "whole number"),
        (_tiered(above_input_tokens=1), "prices.anthropic/x.tiers.0", "at least one rate"),
        (_tiered(above_input_tokens=1, input_multiplier=0), "prices.anthropic/x.tiers.0.input_multiplier",
         "expected a number > 0"),
        (_tiered(above_input_tokens=1, output_per_mtok="9"), "prices.anthropic/x.tiers.0.output_per_mtok",
         "expected a number >= 0"),
        (_tiered(above_input_tokens=1, input_per_mtok=2, input_multiplier=2),
         "prices.anthropic/x.tiers.0.input_multiplier", "either input_per_mtok or input_multiplier"),
        (_tiered(above_input_tokens=1, input_multiplier=2, requires="beta:1m"),
         "prices.anthropic/x.tiers.0.requires", "anthropic-beta:context-1m"),
        (_tiered(above_input_tokens=1, input_multiplier=2, treshold=3),
         "prices.anthropic/x.tiers.0.treshold", "is not a known tier field"),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "tiers": [
            {"above_input_tokens": 5, "input_multiplier": 2},
            {"above_input_tokens": 5, "output_multiplier": 2},
        ]}, "prices.anthropic/x.tiers.1", "same above_input_tokens"),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "note": "x"},
         "prices.anthropic/x.note", "is not a known price field"),
    ],
)  # fmt: skip
def test_bad_overrides_name_the_key_path(raw: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(PriceError) as info:
        validate_price_entry("anthropic/x", raw)
    assert info.value.path == path
    assert message in info.value.message
    assert str(info.value).startswith(f'"{path}": ')


def test_a_valid_override_with_everything_validates() -> None:
    price = validate_price_entry(
        "anthropic/x",
        {
            "input_per_mtok": 3,
            "output_per_mtok": 15,
            "cached_input_per_mtok": 0.3,
            "cache_write_5m_per_mtok": 3.75,
            "cache_write_1h_per_mtok": 6,
            "tiers": [{"above_input_tokens": 200_000, "requires": CONTEXT_1M, "input_multiplier": 2}],
        },
    )
    assert price.cache_write_1h == 6 and len(price.tiers) == 1 and price.origin == "config"


# --- the shipped file is data only --------------------------------------------------------------


def _shipped() -> list[dict[str, Any]]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("pricing.json").read_text("utf-8")
    entries: list[dict[str, Any]] = json.loads(text)
    return entries


def test_every_shipped_entry_states_source_and_date_and_carries_no_free_text_note() -> None:
    for entry in _shipped():
        name = f"{entry['provider']}/{entry['model']}"
        assert isinstance(entry.get("source"), str) and entry["source"], name
        assert isinstance(entry.get("as_of"), str) and entry["as_of"], name
        assert "note" not in entry, name
        assert "cache_write_per_mtok" not in entry, name  # one name per rate


def test_every_shipped_tier_validates_as_an_override_would() -> None:
    tiered = [e for e in _shipped() if "tiers" in e]
    assert {e["model"] for e in tiered} >= {"claude-sonnet-4-5", "gpt-5.5", "gpt-5.4"}
    rates = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok")
    for entry in tiered:
        raw = {k: entry[k] for k in (*rates, "tiers") if k in entry}
        price = validate_price_entry(f"{entry['provider']}/{entry['model']}", raw)
        assert price.tiers
