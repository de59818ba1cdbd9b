"""Anthropic's 20-block look-back in the product's cache model, the breakpoints it reads from a
request, and what the cache-aware switching rule charges a move for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs.cache_state import (
    LOOKBACK_BLOCKS,
    CacheState,
    marks_of,
    observe,
    readable,
)
from stackbilt_gateway.daemon.costs.counterfactual import billed_marks, step
from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.costs.switching import TaskShape, assess_move
from stackbilt_gateway.daemon.routing.classify import classify
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from tests.costs.reference import Buckets, reference_cost

SONNET = ("anthropic", "claude-sonnet-4-5")
OPUS = ("anthropic", "claude-opus-4-6")
HAIKU = ("anthropic", "claude-haiku-4-5")
NOW = 50_000.0
CAPTURES = Path(__file__).resolve().parent.parent / "data" / "clients" / "claude-code"


@given(
    end=st.integers(min_value=0, max_value=200),
    last=st.integers(min_value=0, max_value=200),
    system=st.integers(min_value=0, max_value=30),
)
def test_a_prefix_is_found_only_within_the_look_back(end: int, last: int, system: int) -> None:
    """Whole prefix iff some breakpoint is at most 20 blocks past its end; else at most the
    longest breakpoint at or before the end; nothing read past the lifetime."""
    if last <= system:
        last = system + 1
    marks = ((system, 1_000), (last, 9_000))
    state = CacheState(8_000, 300.0, NOW - 10, position=end)
    got = readable(state, NOW, marks)
    if any(p - LOOKBACK_BLOCKS <= end <= p for p, _ in marks):
        assert got == 8_000
    elif end >= last:
        assert got == 8_000  # the request is shorter: its last breakpoint's prefix, capped
    elif end >= system:
        assert got == 1_000  # only the system prefix is found
    else:
        assert got == 0
    assert readable(state, NOW + 300, marks) == 0
    assert readable(CacheState(8_000, 300.0, NOW - 10), NOW, marks) == 8_000  # position unknown


def test_observe_records_where_the_prefix_ends() -> None:
    usage = Usage(input_tokens=10, cache_write_tokens=5_000)
    assert observe(None, usage, NOW, explicit=True, marks=((14, 3_000), (40, 5_000))).position == 40  # type: ignore[union-attr]
    assert observe(None, usage, NOW, explicit=True).position == -1  # type: ignore[union-attr]


def test_marks_as_recorded_are_validated() -> None:
    assert marks_of([[13, 100], [21, 900]]) == ((13, 100), (21, 900))
    for bad in (None, "x", [[1]], [[2, 5], [1, 9]], [[1, -2]], [[True, 3]], [[1.5, 3]]):
        assert marks_of(bad) == ()


def test_billed_marks_scale_to_what_was_billed() -> None:
    usage = Usage(input_tokens=50, cache_read_tokens=6_000, cache_write_tokens=2_000)
    assert billed_marks(((14, 2_000), (30, 4_000)), SONNET, usage) == ((14, 4_000), (30, 8_000))
    assert billed_marks((), SONNET, usage) == ()


def test_the_claude_code_breakpoints_are_read_from_the_capture() -> None:
    body = json.loads((CAPTURES / "messages_tool_result_turn2.json").read_text())["request"]["body"]
    signals = classify(parse_request(body), client="claude-code").signals
    marks = marks_of(signals["cache_marks"])
    tools, system = len(body["tools"]), len(body["system"])
    # the two marked system blocks and the last message's tool result, counted tools-first
    assert [p for p, _ in marks] == [tools + 1, tools + 2, tools + system + _message_blocks(body) - 1]
    assert signals["cache_stable_tokens"] == marks[1][1]
    assert marks[0][1] < marks[1][1] < marks[2][1] <= signals["est_tokens"]


def _message_blocks(body: dict[str, object]) -> int:
    return sum(len(m["content"]) if isinstance(m["content"], list) else 1 for m in body["messages"])  # type: ignore[attr-defined, index]


def test_a_detour_past_the_look_back_re_writes_all_but_the_system_prefix() -> None:
    """The other world's Sonnet cache ends 30 blocks before the returning request's breakpoint:
    it reads the system prefix only and writes the rest; within 20 blocks it reads it all."""
    usage = Usage(input_tokens=20, cache_read_tokens=40_000, cache_write_tokens=2_000)
    actual = CacheState(40_000, 300.0, NOW - 5, position=100)
    routed = CacheState(30_000, 300.0, NOW - 60, position=70)
    marks = ((14, 5_000), (101, 21_000))  # estimates: billed is twice that
    far = step(SONNET, SONNET, usage, served_before=actual, other_before=routed, now=NOW, marks=marks)
    assert far.counterfactual.usage.cache_read_tokens == 10_000  # the system prefix, billed
    assert far.counterfactual.usage.cache_write_tokens == 32_000
    near = CacheState(30_000, 300.0, NOW - 60, position=85)
    close = step(SONNET, SONNET, usage, served_before=actual, other_before=near, now=NOW, marks=marks)
    assert close.counterfactual.usage.cache_read_tokens == 30_000
    assert far.other_after is not None and far.other_after.position == 101


def test_the_switching_rule_charges_a_long_detour_the_look_back_miss() -> None:
    book = load_pricebook()
    warm = CacheState(60_000, 300.0, NOW - 5, position=40)
    long_task = TaskShape(
        prefix_tokens=60_000, requests=10, growth_tokens=500, output_tokens=800, seconds=100
    )
    short_task = TaskShape(
        prefix_tokens=60_000, requests=5, growth_tokens=500, output_tokens=800, seconds=100
    )
    lost = assess_move(book, OPUS, warm, HAIKU, None, long_task, NOW, stable_tokens=15_000).consequence
    rewrite = reference_cost(*OPUS, Buckets(write_5m=45_000)) - reference_cost(*OPUS, Buckets(read=45_000))
    assert lost == pytest.approx(rewrite)
    # five requests (15 blocks) stay within the look-back; unknown breakpoints charge nothing
    assert assess_move(book, OPUS, warm, HAIKU, None, short_task, NOW, stable_tokens=15_000).consequence == 0
    assert assess_move(book, OPUS, warm, HAIKU, None, long_task, NOW).consequence == 0
