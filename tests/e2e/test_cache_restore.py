"""A restart keeps the prompt-cache model: savings after it are what they would have been.

The upstream's caches do not restart with the daemon. A Claude Code-shaped session on Sonnet 4.5
(1-hour markers, long answers) runs in shadow mode with summaries routed to Haiku: two main
turns, then a summary ask the route table sends to Haiku (the routed world's Sonnet cache stays
where it was), then a new user turn back on Sonnet, which in the routed world writes what the ask
added. Run once straight through and once with the daemon restarted (a new gateway on the same
home) before the new turn: every event's projection must be the same, and the new turn's must
carry that write, owed to the summary move — a daemon that forgot its caches would project
nothing there.
The recorder and the cache book run on the fake's clock, so the recorded times are the caches'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.control.paths import HOME_ENV
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import CachedScript
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import buckets_of, reference_cost
from tests.e2e.test_cost_truth import (
    SONNET,
    Rig,
    add_tool_round,
    capture,
    messages,
    one_hour,
    recorded_events,
)
from tests.e2e.test_projection_truth import HAIKU, ROUTES, summary_ask
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Outcome:
    events: list[dict[str, Any]]  # every event of the run, oldest first
    references: list[float]  # the reference cost of each call the fake served, in order


def _gateway(env: dict[str, str], clock: ManualClock, mode: str = "shadow") -> GatewayThread:
    gw = GatewayThread(env=env, config=Config(routes=dict(ROUTES), mode=mode)).start()
    assert gw._server is not None
    state = gw._server.app.extensions["stackbilt"]
    state.router.caches.clock = clock  # the fake's time for the caches …
    assert state.recorder is not None
    state.recorder.clock = clock  # … and for the events a restart replays
    return gw


def run(home: Path, *, restart: bool) -> Outcome:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        clock = ManualClock(start=time.time())  # recent: a restart reads the last hour's events
        script = CachedScript(clock=clock, reasoning_tokens=3_000)  # long answers: moving pays
        fake = FakeUpstream(script=script, record=False).start()
        env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
        gw = _gateway(env, clock)
        try:
            headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
            _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
            turn1["model"] = turn2["model"] = SONNET
            rig = Rig(gw, fake, script, clock)
            messages(rig, headers, one_hour(turn1))  # cold 1-hour writes
            clock.advance(20)
            main = one_hour(turn2)
            messages(rig, headers, main)  # tool loop
            clock.advance(20)
            main = summary_ask(main, "Summarize what changed so far in three bullet points.")
            messages(rig, headers, main)  # summary: the routed world serves it on Haiku
            recorded_events(rig, 3)  # written before any restart
            if restart:
                gw.stop()
                gw = _gateway(env, clock)
                rig = Rig(gw, fake, script, clock)
            clock.advance(30)
            main = summary_ask(main, "Now run the test suite and fix what fails.")
            messages(rig, headers, main)  # back on Sonnet: the routed world re-writes the detour
            main = add_tool_round(main, 1, "ok: 12 passed", "1h")
            clock.advance(10)
            messages(rig, headers, main)
            events = recorded_events(rig, 5)  # both gateways' events: one database
        finally:
            gw.stop()
            fake.stop()
    served = sorted(script.log(), key=lambda s: s.number)
    refs = [
        reference_cost(call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas)
        for call in served
    ]
    return Outcome(events, refs)


def test_a_restart_keeps_the_projection(tmp_path: Path) -> None:
    straight = run(tmp_path / "straight", restart=False)
    restarted = run(tmp_path / "restarted", restart=True)
    assert [e["route_class"] for e in straight.events] == [e["route_class"] for e in restarted.events]
    assert [e["would_model"] for e in restarted.events][2] == HAIKU  # the summary detour
    # The upstream billed the same in both runs: the restart did not touch its caches.
    assert straight.references == pytest.approx(restarted.references, rel=1e-9)
    for before, after in zip(straight.events, restarted.events, strict=True):
        assert after["savings_usd"] == pytest.approx(before["savings_usd"], abs=1e-9), (before, after)
        assert after["would_cost_usd"] == pytest.approx(before["would_cost_usd"], abs=1e-9)
    # The turn after the detour carries the re-write the routed world owes (a loss) ...
    back = restarted.events[3]
    assert back["would_model"] == SONNET and back["selected_model"] == SONNET
    assert back["savings_usd"] < 0, back
    # ... charged back to the summary move, which the restart remembered too
    assert back["signals"]["owed_to"]["event"] == restarted.events[2]["id"]
    assert straight.events[3]["signals"]["owed_to"]["event"] == straight.events[2]["id"]
    assert back["would_cost_usd"] > back["cost_usd"]


def test_a_moved_tool_loop_stays_on_its_model_across_a_restart(tmp_path: Path) -> None:
    """Live mode moves a summary task to Haiku; its tool loop goes on there. The daemon restarts
    in the middle of the loop: the next tool round still goes to Haiku, as part of the same
    task (without the task put back it would start a new task on Sonnet mid-loop)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(tmp_path))
        clock = ManualClock(start=time.time())
        script = CachedScript(clock=clock, reasoning_tokens=3_000)
        fake = FakeUpstream(script=script, record=False).start()
        env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
        gw = _gateway(env, clock, "live")
        try:
            headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
            _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
            turn1["model"] = turn2["model"] = SONNET
            rig = Rig(gw, fake, script, clock)
            messages(rig, headers, one_hour(turn1))
            clock.advance(20)
            main = one_hour(turn2)
            messages(rig, headers, main)
            clock.advance(20)
            main = summary_ask(main, "Summarize what changed so far in three bullet points.")
            messages(rig, headers, main)  # the summary task: moved to Haiku
            clock.advance(10)
            main = add_tool_round(main, 1, "src/ has 12 modules", "1h")
            messages(rig, headers, main)  # its tool loop, on Haiku
            before = recorded_events(rig, 4)
            gw.stop()
            gw = _gateway(env, clock, "live")
            rig = Rig(gw, fake, script, clock)
            clock.advance(10)
            main = add_tool_round(main, 2, "tests/ has 40 files", "1h")
            messages(rig, headers, main)  # after the restart: the same task, the same model
            after = recorded_events(rig, 5)
        finally:
            gw.stop()
            fake.stop()
    served = [call.model for call in sorted(script.log(), key=lambda s: s.number)]
    assert served == [SONNET, SONNET, HAIKU, HAIKU, HAIKU], served
    summary, loop, resumed = before[2], before[3], after[4]
    assert summary["signals"]["task"]["task"] == "start" and loop["task_id"] == summary["task_id"]
    assert summary["signals"]["task"]["clamped"] is True  # Claude Code's 128 000 max_tokens, clamped
    assert resumed["task_id"] == summary["task_id"] and resumed["decision_id"] == summary["decision_id"]
    assert resumed["signals"]["task"]["task"].startswith("continues on anthropic/claude-haiku-4-5")
