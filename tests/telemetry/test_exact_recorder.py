"""Exact spend in the recorder: the event carries the 1-hour cache writes, and every cost on it
(paid, counterfactual, a response-cache hit's saving) is priced under the request's price
conditions. Expected figures are computed by hand from the rates written here (per million
tokens), never by asking the product's price book.

claude-sonnet-4-5: 3 / 15, read 0.30, 5-minute write 3.75, 1-hour write 6; with the 1M-context
beta above 200 000 input tokens: 6 / 22.50, read 0.60, 5-minute 7.50, 1-hour 12.
claude-haiku-4-5: 1 / 5, read 0.10, 5-minute write 1.25, 1-hour write 2.
"""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core.context import RequestRecord, ResponseHit
from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs import CONTEXT_1M, load_pricebook
from stackbilt_gateway.daemon.telemetry.recorder import SessionSnapshot, build_event

M = 1_000_000
SONNET = ("anthropic", "claude-sonnet-4-5")
HAIKU = ("anthropic", "claude-haiku-4-5")


def big() -> Usage:
    # 230 000 input tokens: uncached 10k, 5-minute writes 20k, 1-hour writes 150k, reads 50k
    return Usage(
        input_tokens=10_000,
        cache_write_tokens=170_000,
        cache_write_1h_tokens=150_000,
        cache_read_tokens=50_000,
        output_tokens=2_000,
    )


def record(
    served: tuple[str, str], *, mode: str, beta: bool, requested: tuple[str, str] = SONNET
) -> RequestRecord:
    rec = RequestRecord("req_1", "anthropic", provider=served[0], upstream_model=served[1], status=200)
    rec.usage.copy_from(big())
    ctx = rec.context
    ctx.mode, ctx.requested, ctx.would = mode, requested, None
    ctx.price_conditions = frozenset({CONTEXT_1M}) if beta else frozenset()
    return rec


TIERED = (10_000 * 6 + 20_000 * 7.5 + 150_000 * 12 + 50_000 * 0.6 + 2_000 * 22.5) / M
BASE = (10_000 * 3 + 20_000 * 3.75 + 150_000 * 6 + 50_000 * 0.3 + 2_000 * 15) / M


def test_the_event_carries_the_1h_writes_and_the_long_context_cost() -> None:
    event = build_event(record(SONNET, mode="shadow", beta=True), load_pricebook())
    assert (event.cache_write_tokens, event.cache_write_1h_tokens) == (170_000, 150_000)
    assert event.cost_usd == pytest.approx(TIERED) and TIERED == pytest.approx(2.085)
    assert event.cache_status == "hit"


def test_without_the_beta_the_same_usage_costs_the_base_rates() -> None:
    event = build_event(record(SONNET, mode="shadow", beta=False), load_pricebook())
    assert event.cost_usd == pytest.approx(BASE) and BASE == pytest.approx(1.05)


def test_live_counterfactual_is_priced_under_the_condition_too() -> None:
    # Served by Haiku (no tier); the premium side re-prices 230 000 tokens on Sonnet: with no
    # premium cache known, all of them are 5-minute writes, at the tier's 7.50, output at 22.50.
    rec = record(HAIKU, mode="live", beta=True)
    event = build_event(rec, load_pricebook(), SessionSnapshot("anthropic", premium_cached_tokens=0))
    paid = (10_000 * 1 + 20_000 * 1.25 + 150_000 * 2 + 50_000 * 0.1 + 2_000 * 5) / M
    premium = (230_000 * 7.5 + 2_000 * 22.5) / M
    assert event.cost_usd == pytest.approx(paid)
    assert event.would_cost_usd == pytest.approx(premium)
    assert event.savings_usd == pytest.approx(premium - paid)


def test_a_response_cache_hit_saves_what_the_answer_cost_under_the_condition() -> None:
    rec = record(("cache", "claude-sonnet-4-5"), mode="shadow", beta=True)
    rec.context.response_hit = ResponseHit(SONNET[0], SONNET[1], big())
    event = build_event(rec, load_pricebook())
    assert event.cost_usd == 0.0
    assert event.would_cost_usd == pytest.approx(TIERED)
    assert event.savings_usd == pytest.approx(TIERED)
