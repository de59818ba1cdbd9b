"""Prices and per-request cost, against hand-computed figures."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs import Cost, PriceError, cost_of, load_pricebook

USAGE = Usage(input_tokens=1_000, cache_write_tokens=2_000, cache_read_tokens=10_000, output_tokens=500)


def test_anthropic_cost_prices_each_part_separately() -> None:
    # claude-sonnet-4-5: 3 input, 15 output, 0.30 cache read, 3.75 cache write (per MTok)
    cost = load_pricebook().cost("anthropic", "claude-sonnet-4-5", USAGE)
    assert cost.input == pytest.approx(0.003)  # 1 000 x 3 / 1e6
    assert cost.cache_write == pytest.approx(0.0075)  # 2 000 x 3.75 / 1e6
    assert cost.cache_read == pytest.approx(0.003)  # 10 000 x 0.30 / 1e6
    assert cost.output == pytest.approx(0.0075)  # 500 x 15 / 1e6
    assert cost.total == pytest.approx(0.021)
    assert cost.priced and not cost.estimated


def test_reasoning_tokens_are_not_billed_twice() -> None:
    book = load_pricebook()
    with_reasoning = Usage(input_tokens=100, output_tokens=1_000, reasoning_tokens=800)
    assert book.cost("openai", "gpt-5.5", with_reasoning).output == pytest.approx(0.03)  # 1000 x 30


def test_missing_cache_prices_default_to_125_and_10_percent_of_input() -> None:
    book = load_pricebook({"deepseek/deepseek-chat": {"input_per_mtok": 2, "output_per_mtok": 8}})
    usage = Usage(cache_write_tokens=1_000_000, cache_read_tokens=1_000_000)
    cost = book.cost("deepseek", "deepseek-chat", usage)
    assert cost.cache_write == pytest.approx(2.5)
    assert cost.cache_read == pytest.approx(0.2)


def test_unknown_models_are_unpriced() -> None:
    cost = load_pricebook().cost("groq", "nope", USAGE)
    assert cost == Cost(priced=False) and cost.total == 0.0
    assert cost_of(None, USAGE).priced is False


def test_uncertain_prices_and_estimated_usage_flag_the_cost() -> None:
    book = load_pricebook()
    assert book.cost("anthropic", "claude-opus-5-5", USAGE).estimated  # "uncertain": true
    assert book.uncertain("anthropic", "claude-opus-5-5") and book.uncertain("groq", "nope")
    assert not book.uncertain("anthropic", "claude-opus-5")
    estimated = Usage(input_tokens=10, estimated=True)
    assert book.cost("anthropic", "claude-opus-5", estimated).estimated


def test_user_override_replaces_an_uncertain_shipped_price() -> None:
    book = load_pricebook({"anthropic/claude-opus-5-5": {"input_per_mtok": 4, "output_per_mtok": 20}})
    price = book.get("anthropic", "claude-opus-5-5")
    assert price is not None and price.origin == "config" and not price.uncertain
    # an Anthropic override without cache prices still bills writes (1.25x) and reads (0.1x)
    assert price.bills_cache_writes and price.cache_write == 5.0 and price.cache_read == pytest.approx(0.4)


def test_provider_alias_and_dated_model_ids() -> None:
    book = load_pricebook()
    assert book.get("cloudflare", "@cf/openai/gpt-oss-120b") is not None  # "cloudflare-workers-ai"
    assert book.get("cloudflare-workers-ai", "@cf/openai/gpt-oss-120b") is not None
    dated = book.get("anthropic", "claude-sonnet-4-5-20250929")
    assert dated is not None and dated == book.get("anthropic", "claude-sonnet-4-5")


def test_entries_without_a_confirmed_price_are_unpriced() -> None:
    assert load_pricebook().get("cerebras", "llama3.1-8b") is None


@pytest.mark.parametrize(
    ("key", "raw", "path"),
    [
        ("groq/x", {"input_per_mtok": 1}, "prices.groq/x.output_per_mtok"),
        ("groq/x", {"input_per_mtok": "1", "output_per_mtok": 1}, "prices.groq/x.input_per_mtok"),
        ("groq/x", {"input_per_mtok": 1, "output_per_mtok": 1, "typo": 1}, "prices.groq/x.typo"),
        ("groq/x", 3, "prices.groq/x"),
        ("groqx", {}, "prices.groqx"),
    ],
)
def test_bad_overrides_name_the_key_path(key: str, raw: object, path: str) -> None:
    with pytest.raises(PriceError) as err:
        load_pricebook({key: raw})  # type: ignore[dict-item]
    assert err.value.path == path
