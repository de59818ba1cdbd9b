"""Projection truth past Anthropic's 20-block look-back.

A Claude Code-shaped session on Sonnet 4.5 (5-minute markers on the system prompt and on the last
message): two main turns, then a summary ask the route table sends to Haiku, whose task runs ten
tool rounds (three blocks each), then a new ask back on Sonnet — all within Sonnet's cache
lifetime. Where the detour was taken, Sonnet's cached prefix now ends more than 20 blocks before
the returning request's breakpoint: Anthropic does not find it, reads only the system prefix and
re-writes the conversation. A cache model that only watched lifetimes would project that Sonnet
reads its whole old prefix.

Run twice against the cache-faithful fake (fresh caches and gateway each time): in shadow mode
(everything on Sonnet; the events carry the projection) and in live mode (the detour served by
Haiku; the fake bills the miss). Per call, the truth is the reference cost of the shadow run's call
minus the live run's (``tests.costs.reference``); the projection of the returning turn must carry
the re-write, and the totals must agree within 2 % of the spend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.control.paths import HOME_ENV
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import CachedScript
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import buckets_of, reference_cost
from tests.e2e.test_cost_truth import SONNET, Rig, add_tool_round, capture, filler, messages, recorded_events
from tests.e2e.test_projection_truth import HAIKU, ROUTES, summary_ask
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

GAP_OF_SPEND = 0.02
_AUTH = {"x-api-key": GATEWAY_KEY}
DETOUR_ROUNDS = 10  # 3 blocks each: past the 20-block look-back


@dataclass(frozen=True)
class Call:
    model: str
    reference: float
    savings: float
    read: int
    event: dict[str, Any]


@dataclass(frozen=True)
class Run:
    calls: list[Call]
    by_class: dict[str, dict[str, Any]]  # /metrics by route class
    routes_view: dict[str, dict[str, Any]]  # the dashboard's routes view, per class


def run(mode: str, home: Path) -> Run:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        clock = ManualClock()
        script = CachedScript(clock=clock)
        fake = FakeUpstream(script=script, record=False).start()
        env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
        gw = GatewayThread(env=env, config=Config(routes=dict(ROUTES), mode=mode)).start()
        try:
            assert gw._server is not None
            gw._server.app.extensions["stackbilt"].router.caches.clock = clock
            rig = Rig(gw, fake, script, clock)
            session(rig)
            served = sorted(script.log(), key=lambda s: s.number)
            events = recorded_events(rig, len(served))
            metrics = httpx.get(
                f"{gw.url}/metrics", params={"since": "all"}, headers=_AUTH, timeout=10
            ).json()
            view = httpx.get(f"{gw.url}/ui/api/routes", params={"since": "30d"}, headers=_AUTH, timeout=10)
            classes = {row["route_class"]: row for row in view.json()["classes"]}
        finally:
            gw.stop()
            fake.stop()
    calls = []
    for call, event in zip(served, events, strict=True):
        assert event["status"] == "ok" and event["selected_model"] == call.model
        cost = reference_cost(call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas)
        calls.append(Call(call.model, cost, event["savings_usd"], event["cache_read_tokens"], event))
    return Run(calls, {row["key"]: row for row in metrics["by_route_class"]}, classes)


def session(rig: Rig) -> None:
    headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
    _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
    turn1["model"] = turn2["model"] = SONNET
    messages(rig, headers, turn1)  # 0: cold
    rig.clock.advance(10)
    main = add_tool_round(turn2, 1, filler("main-1", 6_000), None)
    messages(rig, headers, main)  # 1: tool loop on Sonnet
    rig.clock.advance(10)
    main = summary_ask(main, "Summarize what changed so far in three bullet points.")
    _five_minutes(main)
    messages(rig, headers, main)  # 2: summary → Haiku (the routed world)
    for n in range(DETOUR_ROUNDS):  # 3..12: the summary task's tool loop stays on Haiku
        rig.clock.advance(8)
        main = add_tool_round(main, 10 + n, filler(f"detour-{n}", 300), None)
        messages(rig, headers, main)
    rig.clock.advance(8)
    main = summary_ask(main, "Now run the test suite and fix what fails.")
    _five_minutes(main)
    messages(rig, headers, main)  # 13: back on Sonnet, its old prefix 32 blocks back


def _five_minutes(body: dict[str, object]) -> None:
    """``summary_ask`` marks the ask for an hour; this session's markers are all 5-minute ones."""
    last = body["messages"][-1]  # type: ignore[index]
    last["content"][-1]["cache_control"] = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    yield run("shadow", tmp_path_factory.mktemp("shadow")), run("live", tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def runs(both: tuple[Run, Run]) -> tuple[list[Call], list[Call]]:
    return both[0].calls, both[1].calls


def test_the_return_turns_re_write_is_charged_back_to_the_move(both: tuple[Run, Run]) -> None:
    """The returning turn owes its re-write to the summary move; per class, the summary's
    savings carry it (the totals are unchanged)."""
    for result in both:
        calls = result.calls
        move, back = calls[2].event, calls[-1].event
        owed = back["signals"]["owed_to"]
        assert owed == {"event": move["id"], "route_class": "summary", "to": f"anthropic/{HAIKU}"}, owed
        assert f"owed to the move of {move['id']} to {HAIKU}" in back["signals"]["why"]
        own = sum(c.savings for c in calls if c.event["route_class"] == "summary")
        summary = result.by_class["summary"]
        assert summary["savings_usd"] == pytest.approx(own + back["savings_usd"], abs=1e-9)
        assert summary["charged_back_usd"] == pytest.approx(back["savings_usd"], abs=1e-9)
        back_class = result.by_class[back["route_class"]]
        assert back_class["charged_back_usd"] == pytest.approx(-back["savings_usd"], abs=1e-9)
        total = sum(row["savings_usd"] for row in result.by_class.values())
        assert total == pytest.approx(sum(c.savings for c in calls), abs=1e-9)
        # the dashboard's routes view: the same charge-back, in the mode's own kind of saving
        kind = "savings_realised_usd" if back["mode"] == "live" else "savings_projected_usd"
        other = "savings_projected_usd" if kind == "savings_realised_usd" else "savings_realised_usd"
        view = result.routes_view["summary"]
        assert view[kind] == pytest.approx(own + back["savings_usd"], abs=1e-9) and view[other] == 0
        assert view["charged_back_usd"] == pytest.approx(back["savings_usd"], abs=1e-9)


def test_the_detour_outgrows_the_look_back(runs: tuple[list[Call], list[Call]]) -> None:
    shadow, live = runs
    assert [c.model for c in live] == [SONNET] * 2 + [HAIKU] * (DETOUR_ROUNDS + 1) + [SONNET]
    # the fake found only the system prefix of Sonnet's cache on the way back (live) ...
    assert live[-1].read < shadow[-1].read // 2, (live[-1], shadow[-1])


def test_the_projection_carries_the_look_back_miss(runs: tuple[list[Call], list[Call]]) -> None:
    shadow, live = runs
    spend = sum(c.reference for c in shadow)
    truth = [s.reference - x.reference for s, x in zip(shadow, live, strict=True)]
    projected = [c.savings for c in shadow]
    accounted = [c.savings for c in live]
    report = {
        "spend": round(spend, 6),
        "truth": round(sum(truth), 6),
        "projected": round(sum(projected), 6),
        "accounted": round(sum(accounted), 6),
        "per_call": [
            (round(t, 6), round(p, 6), round(a, 6))
            for t, p, a in zip(truth, projected, accounted, strict=True)
        ],
    }
    print(json.dumps(report, indent=1))
    # the returning turn: the projection charges the re-write the miss causes, as the fake billed it
    assert projected[-1] == pytest.approx(truth[-1], abs=0.02 * abs(truth[-1]) + 1e-6), report
    assert projected[-1] < 0 and truth[-1] < 0, report
    assert abs(sum(projected) - sum(truth)) <= GAP_OF_SPEND * spend, report
    assert abs(sum(accounted) - sum(truth)) <= GAP_OF_SPEND * spend, report
