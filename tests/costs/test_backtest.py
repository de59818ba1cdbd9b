"""The backtest's replay (``routing.backtest``) on hand-written event rows, priced by hand.

Rows look like stored events (``telemetry.events.from_row``); prices are laid over the shipped
book as whole entries so every figure below is arithmetic on the numbers written here. The
planner is the real one with the shipped compatibility registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.routing.backtest import Policy, backtest, recorded
from stackbilt_gateway.daemon.routing.policy import build_route_table
from stackbilt_gateway.daemon.routing.registry import load_registry

SONNET = ("anthropic", "claude-sonnet-4-5")
HAIKU = ("anthropic", "claude-haiku-4-5")
PRICES = load_pricebook(
    {
        "anthropic/claude-sonnet-4-5": {
            "input_per_mtok": 3,
            "output_per_mtok": 15,
            "cached_input_per_mtok": 0.3,
            "cache_write_5m_per_mtok": 3.75,
            "cache_write_1h_per_mtok": 6,
        },
        "anthropic/claude-haiku-4-5": {
            "input_per_mtok": 1,
            "output_per_mtok": 5,
            "cached_input_per_mtok": 0.1,
            "cache_write_5m_per_mtok": 1.25,
            "cache_write_1h_per_mtok": 2,
        },
    }
)
TO_HAIKU = build_route_table(
    {"summary": ["anthropic/claude-haiku-4-5"], "background": ["anthropic/claude-haiku-4-5"]}
)
M = 1_000_000


def policy(table: Any = TO_HAIKU, configured: frozenset[str] = frozenset({"anthropic"})) -> Policy:
    return Policy(table=table, registry=load_registry(), prices=PRICES, configured=configured.__contains__)


def row(
    n: int,
    ts: float,
    route_class: str,
    *,
    identity: str = "main",
    session: str = "s1",
    served: tuple[str, str] = SONNET,
    requested: tuple[str, str] = SONNET,
    confidence: float = 0.9,
    tokens: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),  # input, write, write_1h, read, output
    **extra: Any,
) -> dict[str, Any]:
    inp, write, write_1h, read, out = tokens
    return {
        "id": f"e{n}",
        "ts": ts,
        "client": "claude-code",
        "protocol": "anthropic",
        "session_id": session,
        "route_class": route_class,
        "confidence": confidence,
        "signals": {
            "rule": f"rule-{route_class}",
            "cache_identity": identity,
            "est_tokens": inp + write + read,
            "carries_tools": True,
            "has_images": False,
            "thinking": False,
            "max_tokens": 32_000,
            "plan_reasons": [],
        },
        "mode": "shadow",
        "requested_provider": requested[0],
        "requested_model": requested[1],
        "selected_provider": served[0],
        "selected_model": served[1],
        "status": "ok",
        "input_tokens": inp,
        "cache_write_tokens": write,
        "cache_write_1h_tokens": write_1h,
        "cache_read_tokens": read,
        "output_tokens": out,
        "reasoning_tokens": 0,
        "usage_estimated": False,
        "cache_status": "hit" if read else ("write" if write else "miss"),
        **extra,
    }


def sonnet(inp: int, write: int, read: int, out: int) -> float:
    return (inp * 3 + write * 3.75 + read * 0.3 + out * 15) / M


def haiku(inp: int, write: int, read: int, out: int) -> float:
    return (inp * 1 + write * 1.25 + read * 0.1 + out * 5) / M


def test_a_move_off_a_warm_cache_writes_the_target_and_leaves_the_premium_cache_alone() -> None:
    rows = [
        row(0, 0.0, "tool_loop", tokens=(50, 100_000, 0, 0, 1_000)),
        row(1, 60.0, "summary", tokens=(40, 0, 0, 100_000, 500)),  # → Haiku: cold there
        row(2, 120.0, "tool_loop", tokens=(30, 2_000, 0, 100_000, 800)),  # Sonnet's cache is alive
    ]
    report = backtest(rows, policy())
    actual = sonnet(50, 100_000, 0, 1_000) + sonnet(40, 0, 100_000, 500) + sonnet(30, 2_000, 100_000, 800)
    simulated = sonnet(50, 100_000, 0, 1_000) + haiku(40, 100_000, 0, 500) + sonnet(30, 2_000, 100_000, 800)
    assert report.totals.actual_usd == pytest.approx(actual, abs=1e-12)
    assert report.totals.simulated_usd == pytest.approx(simulated, abs=1e-12)
    assert report.totals.savings_usd == pytest.approx(actual - simulated, abs=1e-12)
    assert report.totals.moves_taken == 1 and report.totals.moves_refused == 0
    (move,) = report.taken
    assert (move.event_id, move.to, move.rule) == ("e1", "anthropic/claude-haiku-4-5", "rule-summary")


def test_a_premium_turn_after_a_long_detour_pays_the_re_write() -> None:
    rows = [
        row(0, 0.0, "tool_loop", tokens=(50, 100_000, 0, 0, 1_000)),
        row(1, 200.0, "summary", tokens=(40, 0, 0, 100_000, 500)),  # refreshes Sonnet's cache (actual)
        row(2, 450.0, "tool_loop", tokens=(30, 2_000, 0, 100_000, 800)),  # simulated: expired at 300
    ]
    report = backtest(rows, policy())
    # Per task and cache-aware: the detour would let Sonnet's 5-minute cache die while away and
    # re-write 100k tokens, so the move is refused with its numbers and nothing is re-written.
    assert report.totals.moves_taken == 0
    (move,) = report.refused
    assert move.event_id == "e1" and move.reasons[0].startswith("skip anthropic/claude-haiku-4-5: loses $")
    assert "cache lost $" in move.reasons[0]
    assert report.totals.simulated_usd == pytest.approx(report.totals.actual_usd, abs=1e-12)


def test_an_unconfigured_target_is_a_move_refused_with_its_reason() -> None:
    table = build_route_table({"summary": ["groq/openai/gpt-oss-120b"]})
    rows = [row(0, 0.0, "summary", tokens=(40, 0, 0, 0, 500))]
    report = backtest(rows, policy(table))
    assert report.totals.moves_taken == 0 and report.totals.moves_refused == 1
    (move,) = report.refused
    assert move.to is None and move.rule == "rule-summary" and move.route_class == "summary"
    assert move.reasons == ("skip groq/openai/gpt-oss-120b: provider not configured",)
    assert report.totals.simulated_usd == report.totals.actual_usd


def test_a_dearer_target_and_a_low_confidence_are_refused_too() -> None:
    table = build_route_table({"summary": ["anthropic/claude-sonnet-4-5"]})
    rows = [
        row(0, 0.0, "summary", served=HAIKU, requested=HAIKU, tokens=(40, 0, 0, 0, 500)),
        row(1, 1.0, "background", confidence=0.2, tokens=(40, 0, 0, 0, 500)),
    ]
    report = backtest(rows, policy(table))
    reasons = {m.event_id: m.reasons for m in report.refused}
    (dearer,) = reasons["e0"]
    assert dearer.startswith("skip anthropic/claude-sonnet-4-5: loses $"), dearer
    assert reasons["e1"] == ("confidence below 0.50: routing as fallback_safe",)
    assert report.totals.moves_refused == 2 and report.totals.moves_taken == 0


def test_per_class_and_per_session_rows_add_up() -> None:
    rows = [
        row(0, 0.0, "tool_loop", tokens=(50, 100_000, 0, 0, 1_000)),
        row(1, 5.0, "background", identity="title", tokens=(900, 0, 0, 0, 20)),
        row(2, 9.0, "summary", session="s2", identity="other", tokens=(40, 8_000, 8_000, 0, 500)),
        row(3, 30.0, "tool_loop", session="s2", identity="other", tokens=(30, 1_000, 1_000, 8_000, 800)),
        row(4, 40.0, "fallback_safe", tokens=(10, 0, 0, 100_000, 100)),
    ]
    report = backtest(rows, policy())
    totals = report.totals
    for rows_ in (report.by_class, report.by_session):
        assert sum(t.requests for t in rows_.values()) == totals.requests == 5
        assert sum(t.actual_usd for t in rows_.values()) == pytest.approx(totals.actual_usd, abs=1e-12)
        assert sum(t.simulated_usd for t in rows_.values()) == pytest.approx(totals.simulated_usd, abs=1e-12)
        assert sum(t.moves_taken for t in rows_.values()) == totals.moves_taken == 2
    assert set(report.by_session) == {"s1", "s2"}
    # The title is a fresh context: uncached on Sonnet, uncached on Haiku.
    assert report.by_class["background"].simulated_usd == pytest.approx(haiku(900, 0, 0, 20), abs=1e-12)
    # The subagent's 1-hour writes stay 1-hour writes on Haiku (2.00 instead of 1.25).
    summary = report.by_class["summary"].simulated_usd
    assert summary == pytest.approx((40 * 1 + 8_000 * 2 + 500 * 5) / M, abs=1e-12)
    as_json = report.as_dict()
    assert as_json["totals"]["requests"] == 5 and len(as_json["moves_taken"]) == 2


def test_what_is_not_replayed_is_skipped() -> None:
    rows = [
        row(0, 0.0, "summary", tokens=(40, 0, 0, 0, 500)),
        row(1, 1.0, "summary", status="error", tokens=(0, 0, 0, 0, 0)),
        row(
            2,
            2.0,
            "summary",
            tokens=(40, 0, 0, 0, 500),
            cache_status="response_hit",
            selected_provider="cache",
        ),
        row(3, 3.0, "summary", selected_provider=None, selected_model=None),
    ]
    report = backtest(rows, policy())
    assert report.skipped == 3 and report.totals.requests == 1


def test_a_row_keeps_its_conditions_and_falls_back_to_the_session_identity() -> None:
    old = row(0, 0.0, "tool_loop", tokens=(10, 0, 0, 0, 5))
    del old["signals"]["cache_identity"]
    old["signals"]["price_conditions"] = ["anthropic-beta:context-1m"]
    event = recorded(old)
    assert event is not None
    assert event.identity == "session:s1" and event.conditions == frozenset({"anthropic-beta:context-1m"})
    assert event.rule == "rule-tool_loop" and not event.pinned


def test_a_long_context_turn_is_priced_under_its_conditions_on_both_sides() -> None:
    book = load_pricebook()  # the shipped Sonnet 4.5 tier: above 200k with the 1M beta, 2x / 1.5x
    rows = [row(0, 0.0, "tool_loop", tokens=(250_000, 0, 0, 0, 1_000))]
    rows[0]["signals"]["price_conditions"] = ["anthropic-beta:context-1m"]
    pol = Policy(table=TO_HAIKU, registry=load_registry(), prices=book, configured={"anthropic"}.__contains__)
    with_beta = backtest(rows, pol).totals
    del rows[0]["signals"]["price_conditions"]
    without = backtest(rows, pol).totals
    assert with_beta.actual_usd == pytest.approx(2 * 250_000 * 3 / M + 1.5 * 1_000 * 15 / M, rel=1e-9)
    assert without.actual_usd == pytest.approx(250_000 * 3 / M + 1_000 * 15 / M, rel=1e-9)
    assert with_beta.simulated_usd == with_beta.actual_usd
