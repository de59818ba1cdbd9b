"""Projection truth end to end: what shadow mode projects equals what live mode realises.

One Claude Code-shaped session on Sonnet 4.5 (1-hour markers and the 1M beta on the main
conversation; a title call; a subagent with 5-minute markers whose first turn asks for a summary;
idle gaps past 5 minutes and past an hour; a summary ask on the main conversation after the hour,
then back to its tool loop) is run twice against the cache-faithful fake, each time with FRESH
caches and a fresh gateway, under the same route table (summary and background →
``anthropic/claude-haiku-4-5``, a cheaper tier of the same vendor):

- in shadow mode every call is served by Sonnet: the fake's usage is what the requested models
  cost, and each event's ``savings_usd`` is the gateway's projection;
- in live mode the moved calls are served by Haiku: the fake's usage is what was paid, and each
  event's ``savings_usd`` is the gateway's realised-savings accounting.

The truth, per call, is ``reference(shadow run) - reference(live run)`` priced by the tests' own
cost function (``tests.costs.reference``) from the usage the fake logged: it charges the premium
re-write a detour causes to the premium turn that pays it, as both the projection and the live
accounting do. The gateway's clock is the fake's (``CacheBook.clock``), so lifetimes agree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.control.paths import HOME_ENV
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import LONG_CONTEXT_BETA, CachedScript
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import buckets_of, reference_cost
from tests.e2e.test_cost_truth import (
    SONNET,
    Rig,
    add_tool_round,
    capture,
    filler,
    messages,
    one_hour,
    recorded_events,
)
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e

HAIKU = "claude-haiku-4-5"
ROUTES = {"summary": (f"anthropic/{HAIKU}",), "background": (f"anthropic/{HAIKU}",)}
# The projection may miss the truth by this share of the session's spend (and never flip a sign).
GAP_OF_SPEND = 0.02


@dataclass(frozen=True)
class Call:
    """One call of a run: its event and the reference cost of what the fake billed for it."""

    route_class: str
    model: str
    reference: float
    savings: float


def run_session(mode: str, home: Path) -> list[Call]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))  # each run its own telemetry database
        return _run(mode)


def _run(mode: str) -> list[Call]:
    clock = ManualClock()
    script = CachedScript(clock=clock, reasoning_tokens=900)
    fake = FakeUpstream(script=script, record=False).start()
    env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
    gw = GatewayThread(env=env, config=Config(routes=dict(ROUTES), mode=mode)).start()
    try:
        assert gw._server is not None
        gw._server.app.extensions["stackbilt"].router.caches.clock = clock  # the fake's time
        session(Rig(gw, fake, script, clock))
        served = sorted(script.log(), key=lambda s: s.number)
        events = recorded_events(Rig(gw, fake, script, clock), len(served))
    finally:
        gw.stop()
        fake.stop()
    calls = []
    for call, event in zip(served, events, strict=True):
        assert event["status"] == "ok" and event["selected_model"] == call.model and event["mode"] == mode
        cost = reference_cost(call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas)
        calls.append(Call(event["route_class"], call.model, cost, event["savings_usd"]))
    return calls


def summary_ask(body: dict[str, Any], text: str) -> dict[str, Any]:
    """The assistant's final answer and the user's next ask, the 1-hour breakpoint on the ask."""
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if isinstance(block, dict):
                block.pop("cache_control", None)
    body["messages"].append({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
    control = {"type": "ephemeral", "ttl": "1h"}
    body["messages"].append(
        {"role": "user", "content": [{"type": "text", "text": text, "cache_control": control}]}
    )
    return body


def session(rig: Rig) -> None:
    headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
    headers["anthropic-beta"] += f",{LONG_CONTEXT_BETA}"
    _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
    sub_headers, sub = capture("claude-code", "messages_subagent_first_turn.json")
    title_headers, title = capture("claude-code", "messages_interactive_title_generation.json")
    for body in (turn1, turn2, sub, title):
        body["model"] = SONNET
    sub["messages"][0]["content"][-1]["text"] = "SUBAGENT_TASK: summarize the layout of src/ in five lines."

    messages(rig, headers, one_hour(turn1))  # 0 fallback_safe: cold, 1-hour writes
    rig.clock.advance(20)
    main = one_hour(turn2)
    messages(rig, headers, main)  # 1 tool_loop
    rig.clock.advance(1)
    messages(rig, title_headers, title)  # 2 background → Haiku: a fresh context
    rig.clock.advance(2)
    messages(rig, sub_headers, sub)  # 3 summary → Haiku: the subagent's first turn
    rig.clock.advance(30)
    sub = add_tool_round(sub, 1, filler("sub-1", 3_000), None)
    messages(rig, sub_headers, sub)  # 4 tool_loop on Sonnet: its subagent cache was never built
    rig.clock.advance(30)
    main = add_tool_round(main, 2, filler("main-2", 40_000), "1h")
    messages(rig, headers, main)  # 5 tool_loop: the main cache is untouched by the detours
    rig.clock.advance(6 * 60)  # past 5 minutes: the subagent's caches are gone in both worlds
    sub = add_tool_round(sub, 3, filler("sub-3", 500), None)
    messages(rig, sub_headers, sub)  # 6 tool_loop
    main = add_tool_round(main, 4, filler("main-4", 800), "1h")
    messages(rig, headers, main)  # 7 tool_loop
    rig.clock.advance(61 * 60)  # past an hour: every cache is gone
    main = summary_ask(main, "Summarize what changed so far in three bullet points.")
    messages(rig, headers, main)  # 8 summary: a move here would only postpone the re-write
    rig.clock.advance(15)
    main = add_tool_round(main, 5, filler("main-5", 600), "1h")
    messages(rig, headers, main)  # 9 tool_loop
    rig.clock.advance(15)
    main = add_tool_round(main, 6, filler("main-6", 160_000), "1h")
    messages(rig, headers, main)  # 10 tool_loop past 200k with the 1M beta
    rig.clock.advance(10)
    main = add_tool_round(main, 7, filler("main-7", 300), "1h")
    messages(rig, headers, main)  # 11 tool_loop


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Call], list[Call]]]:
    yield (
        run_session("shadow", tmp_path_factory.mktemp("shadow")),
        run_session("live", tmp_path_factory.mktemp("live")),
    )


def test_the_session_moves_what_the_route_table_says(runs: tuple[list[Call], list[Call]]) -> None:
    shadow, live = runs
    assert [c.route_class for c in shadow] == [c.route_class for c in live]
    moved = [i for i, c in enumerate(live) if c.model == HAIKU]
    # per task: the title (2) and the subagent's whole run (3, 4, 6); the summary ask on the main
    # conversation after the hour (8) stays on Sonnet: its cache is cold, and moving the task
    # would only postpone the re-write to the next Sonnet turn (costs.switching, ``returns``)
    assert moved == [2, 3, 4, 6], [(c.route_class, c.model) for c in live]
    assert {c.model for c in shadow} == {SONNET}


def test_projected_savings_match_realised_savings(runs: tuple[list[Call], list[Call]]) -> None:
    shadow, live = runs
    spend = sum(c.reference for c in shadow)
    truth = [s.reference - x.reference for s, x in zip(shadow, live, strict=True)]
    projected = [c.savings for c in shadow]
    accounted = [c.savings for c in live]
    by_class: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for call, t, p, a in zip(shadow, truth, projected, accounted, strict=True):
        row = by_class[call.route_class]
        row[0] += t
        row[1] += p
        row[2] += a
    report = {
        "spend": round(spend, 6),
        "truth": round(sum(truth), 6),
        "projected": round(sum(projected), 6),
        "live_accounted": round(sum(accounted), 6),
        "by_class": {k: [round(v, 6) for v in row] for k, row in sorted(by_class.items())},
        "per_call": [
            (c.route_class, round(t, 6), round(p, 6), round(a, 6))
            for c, t, p, a in zip(shadow, truth, projected, accounted, strict=True)
        ],
    }
    print(json.dumps(report, indent=1))
    assert abs(sum(projected) - sum(truth)) <= GAP_OF_SPEND * spend, report
    assert abs(sum(accounted) - sum(truth)) <= GAP_OF_SPEND * spend, report
    for name, (t, p, a) in by_class.items():
        if abs(t) > 0.001 * spend:  # a class whose saving is not noise keeps its sign
            assert (p > 0) == (t > 0) and (a > 0) == (t > 0), (name, report)
