"""Routing that saves, end to end on the cache-faithful upstream with the SHIPPED defaults.

Each corpus session is run three times against a fresh fake (``CachedScript``, manual clock) and a
fresh gateway:

- **as requested** (shadow mode): what the session costs unrouted, and the gateway's projection;
- **live** (live mode, shipped defaults);
- **the client's own best** (shadow mode, the client itself sending every subagent run and
  title/topic call one tier down: Opus → Sonnet) — the saving the lane should realise.

Costs are the tests' own ``tests.costs.reference`` applied to the usage the fake billed. Checked:
live realises at least 80 % of the client's own best; no session costs more than as requested
(≤ +0.5 %); no tool-carrying request reaches a model not marked safe for its client; every task's
tool loop stays on one model; the shadow projection is within 2 % of the session's spend of the
realised saving.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.control.paths import HOME_ENV
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.routing.tasks import in_holdout
from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import CachedScript
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import buckets_of, reference_cost
from tests.e2e.test_cost_truth import (
    Rig,
    add_tool_round,
    capture,
    filler,
    function_round,
    messages,
    one_hour,
    recorded_events,
    responses,
)
from tests.e2e.test_projection_truth import summary_ask
from tests.fakes.gateway import GatewayThread

pytestmark = pytest.mark.e2e

OPUS = "claude-opus-4-6"
SONNET = "claude-sonnet-4-6"
GPT = "gpt-5.5"
MODELS = json.loads((Path(__file__).resolve().parents[2] / "daemon" / "data" / "models.json").read_text())[
    "models"
]
# Share of the client's own best saving live routing must realise; the most a session may cost
# over as-requested; how far the projection may be from the realised saving (share of spend).
REALISED_SHARE = 0.8
OVERSPEND = 0.005
PROJECTION_GAP = 0.02

Kind = str  # "main" | "sub" | "title"
Pick = Callable[[Kind], str]


@dataclass(frozen=True)
class Call:
    kind: Kind
    model: str
    provider: str
    cost: float
    tools: bool
    task: str | None
    savings: float | None
    selected: str
    reasoning_items: int


def _session_ids() -> tuple[str, str]:
    """Two session ids outside the 10 % holdout (the shipped default)."""
    found = [f"routing-corpus-{i}" for i in range(100) if not in_holdout(f"routing-corpus-{i}", 0.1)]
    return found[0], found[1]


Corpus = Callable[[Rig, Pick, str], list[Kind]]


def run(mode: str, home: Path, corpus: Corpus, pick: Pick, session: str) -> list[Call]:
    return run_with_events(mode, home, corpus, pick, session)[0]


def run_with_events(
    mode: str,
    home: Path,
    corpus: Corpus,
    pick: Pick,
    session: str,
    routes: dict[str, tuple[str, ...]] | None = None,
) -> tuple[list[Call], list[dict[str, Any]]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        clock = ManualClock()
        script = CachedScript(clock=clock, reasoning_tokens=600)
        fake = FakeUpstream(script=script, record=False).start()
        env = {
            "STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"),
            "STACKBILT_OPENAI_BASE_URL": fake.base_url("openai"),
            "STACKBILT_GROQ_BASE_URL": fake.base_url("groq"),
            "ANTHROPIC_API_KEY": "sk-ant-fake",
            "OPENAI_API_KEY": "sk-openai-fake",
            "GROQ_API_KEY": "gsk-fake",
        }
        gw = GatewayThread(env=env, config=Config(mode=mode, routes=dict(routes or {}))).start()
        try:
            assert gw._server is not None
            gw._server.app.extensions["stackbilt"].router.caches.clock = clock
            rig = Rig(gw, fake, script, clock)
            kinds = corpus(rig, pick, session)
            served = sorted(script.log(), key=lambda s: s.number)
            events = recorded_events(rig, len(served))
        finally:
            gw.stop()
            fake.stop()
    assert len(kinds) == len(served)
    calls = []
    for kind, call, event in zip(kinds, served, events, strict=True):
        assert event["status"] == "ok" and event["selected_model"] == call.model and event["mode"] == mode
        cost = reference_cost(call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas)
        calls.append(
            Call(
                kind,
                call.model,
                call.provider or "",
                cost,
                bool(event["signals"].get("carries_tools")),
                event["task_id"],
                event["savings_usd"],
                f"{event['selected_provider']}/{event['selected_model']}",
                call.reasoning_items,
            )
        )
    return calls, events


# -- the Claude Code corpus (Opus, 1-hour markers, subagents, titles, an idle gap) ------------------


def claude_code(rig: Rig, pick: Pick, session: str) -> list[Kind]:
    kinds: list[Kind] = []

    def send(kind: Kind, headers: dict[str, str], body: dict[str, Any]) -> None:
        body["model"] = pick(kind)
        messages(rig, {**headers, "x-claude-code-session-id": session}, body)
        kinds.append(kind)

    headers, main = capture("claude-code", "messages_tool_turn1.json")
    _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
    sub_headers, sub_first = capture("claude-code", "messages_subagent_first_turn.json")
    title_headers, title = capture("claude-code", "messages_interactive_title_generation.json")

    send("title", title_headers, title)
    rig.clock.advance(1)
    main = one_hour(turn2)
    send("main", headers, main)  # task 1: the user's ask and its first tool result
    for n, size in ((2, 20_000), (3, 6_000), (4, 3_000)):
        rig.clock.advance(15)
        main = add_tool_round(main, n, filler(f"main-{n}", size), "1h")
        send("main", headers, main)
    for run_no in (1, 2):  # the main agent calls its Agent tool: a subagent runs its own tool loop
        sub = json.loads(json.dumps(sub_first))
        sub["messages"][0]["content"][-1]["text"] = f"SUBAGENT_TASK {run_no}: map the modules of src/."
        rig.clock.advance(2)
        send("sub", sub_headers, sub)
        for n, size in ((1, 8_000), (2, 4_000), (3, 12_000), (4, 2_000)):
            rig.clock.advance(20)
            sub = add_tool_round(sub, n, filler(f"sub{run_no}-{n}", size), None)
            send("sub", sub_headers, sub)
        rig.clock.advance(5)
        main = add_tool_round(main, 10 + run_no, filler(f"agent-result-{run_no}", 1_500), "1h")
        send("main", headers, main)
        if run_no == 1:
            rig.clock.advance(30)
            main = summary_ask(main, "Rename the helper to parse_since and fix the import in cli.py.")
            send("main", headers, main)  # task 2: a cheap edit with tools offered
            for n in (20, 21):
                rig.clock.advance(15)
                main = add_tool_round(main, n, filler(f"edit-{n}", 1_200), "1h")
                send("main", headers, main)
            rig.clock.advance(7 * 60)  # idle past 5 minutes: the 1-hour caches live on
            main = summary_ask(main, "Now implement the retry loop we discussed, with tests.")
            send("main", headers, main)  # task 3
            rig.clock.advance(15)
            main = add_tool_round(main, 30, filler("impl-30", 5_000), "1h")
            send("main", headers, main)
    rig.clock.advance(3)
    second_title = json.loads(json.dumps(title))
    second_title["messages"][-1]["content"][-1]["text"] = "Summarize this coding session in a title."
    send("title", title_headers, second_title)
    return kinds


def opus_everywhere(kind: Kind) -> str:
    return OPUS


def client_best(kind: Kind) -> str:
    return SONNET if kind in ("sub", "title") else OPUS


# -- the Codex corpus (gpt-5.5, tool loops, several user turns, an idle gap) -----------------------


def user_turn(body: dict[str, Any], text: str) -> dict[str, Any]:
    body["input"].append(
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]}
    )
    body["input"].append(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    return body


def reasoning(body: dict[str, Any], n: int) -> dict[str, Any]:
    """A reasoning item as Codex carries it back (encrypted content of the model that made it)."""
    body["input"].append(
        {"type": "reasoning", "summary": [], "encrypted_content": f"gAAAA-opaque-{n:04d}" + "x" * 200}
    )
    return body


def codex(rig: Rig, pick: Pick, session: str) -> list[Kind]:
    kinds: list[Kind] = []

    def send(headers: dict[str, str], body: dict[str, Any]) -> None:
        body["model"] = pick("main")
        responses(rig, {**headers, "session-id": session, "thread-id": session}, body)
        kinds.append("main")

    headers, _ = capture("codex", "responses_tool_turn1_gpt-5.5.json")
    _, body = capture("codex", "responses_function_call_output_turn2_gpt-5.5.json")
    send(headers, body)  # task 1
    for n, size in ((3, 30_000), (4, 5_000), (5, 2_000)):
        rig.clock.advance(15)
        body = function_round(reasoning(body, n), n, filler(f"out-{n}", size))
        send(headers, body)
    for turn, ask in enumerate(
        (
            "Rename the variable cfg to config everywhere and fix the imports.",
            "Explain why the scheduler deadlocks under load; find the root cause.",
            "Write a commit message for these changes.",
        )
    ):
        rig.clock.advance(20)
        body = user_turn(body, ask)
        send(headers, body)
        for n in (1, 2):
            rig.clock.advance(15)
            m = 10 * (turn + 1) + n
            body = function_round(reasoning(body, m), m, filler(f"t{turn}-{n}", 2_500))
            send(headers, body)
        if turn == 1:
            rig.clock.advance(8 * 60)  # idle: every automatic cache expired
    return kinds


def gpt_everywhere(kind: Kind) -> str:
    return GPT


# -- the runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runs:
    requested: list[Call]  # shadow mode, served as requested: the baseline and the projection
    live: list[Call]
    best: list[Call] | None  # the client's own best (None: no fresh contexts in the corpus)


@pytest.fixture(scope="module")
def claude_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    session, _ = _session_ids()
    return Runs(
        run("shadow", tmp_path_factory.mktemp("cc-req"), claude_code, opus_everywhere, session),
        run("live", tmp_path_factory.mktemp("cc-live"), claude_code, opus_everywhere, session),
        run("shadow", tmp_path_factory.mktemp("cc-best"), claude_code, client_best, session),
    )


@pytest.fixture(scope="module")
def codex_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    _, session = _session_ids()
    return Runs(
        run("shadow", tmp_path_factory.mktemp("cx-req"), codex, gpt_everywhere, session),
        run("live", tmp_path_factory.mktemp("cx-live"), codex, gpt_everywhere, session),
        None,
    )


def spend(calls: list[Call]) -> float:
    return sum(c.cost for c in calls)


def report(runs: Runs) -> str:
    rows = {
        "requested": round(spend(runs.requested), 6),
        "live": round(spend(runs.live), 6),
        "best": round(spend(runs.best), 6) if runs.best else None,
        "projected": round(sum(c.savings or 0.0 for c in runs.requested), 6),
        "live_models": [(c.kind, c.model) for c in runs.live],
    }
    return json.dumps(rows)


def _safe(call: Call, client: str) -> bool:
    entry = MODELS.get(call.selected, {})
    return entry.get("tools") is True and entry.get(f"{client}_safe") is True


def test_claude_code_live_realises_the_fresh_context_saving(claude_runs: Runs) -> None:
    assert claude_runs.best is not None
    baseline = spend(claude_runs.requested)
    best = baseline - spend(claude_runs.best)
    realised = baseline - spend(claude_runs.live)
    print(report(claude_runs))
    assert best > 0.02 * baseline, report(claude_runs)  # the corpus has something to save
    assert realised >= REALISED_SHARE * best, report(claude_runs)
    assert spend(claude_runs.live) <= baseline * (1 + OVERSPEND), report(claude_runs)


def test_claude_code_main_turns_stay_and_fresh_contexts_move(claude_runs: Runs) -> None:
    for call in claude_runs.live:
        if call.kind == "main":
            assert call.model == OPUS, report(claude_runs)
        else:
            assert call.model == SONNET, report(claude_runs)


@pytest.mark.parametrize(("which", "client"), [("claude", "claude_code"), ("codex", "codex")])
def test_tools_only_reach_safe_models_and_tasks_stay_on_one_model(
    which: str, client: str, claude_runs: Runs, codex_runs: Runs
) -> None:
    runs = claude_runs if which == "claude" else codex_runs
    by_task: dict[str, set[str]] = defaultdict(set)
    for call in runs.live:
        if call.tools:
            assert _safe(call, client), (call, report(runs))
        assert call.task is not None
        by_task[call.task].add(call.model)
    assert len(by_task) >= 3
    assert all(len(models) == 1 for models in by_task.values()), dict(by_task)


def test_codex_live_never_costs_more_than_as_requested(codex_runs: Runs) -> None:
    baseline = spend(codex_runs.requested)
    print(report(codex_runs))
    assert spend(codex_runs.live) <= baseline * (1 + OVERSPEND), report(codex_runs)


@pytest.mark.parametrize("which", ["claude", "codex"])
def test_the_projection_is_within_two_percent_of_the_realised_saving(
    which: str, claude_runs: Runs, codex_runs: Runs
) -> None:
    runs = claude_runs if which == "claude" else codex_runs
    baseline = spend(runs.requested)
    realised = baseline - spend(runs.live)
    projected = sum(c.savings or 0.0 for c in runs.requested)
    assert abs(projected - realised) <= PROJECTION_GAP * baseline, report(runs)


def test_codex_reasoning_items_stay_with_the_model_that_made_them(codex_runs: Runs) -> None:
    """Each model gets back only the reasoning items it produced: the mini task starts with none of
    gpt-5.5's, and gpt-5.5, back, gets its own but not the mini's."""
    live, unrouted = codex_runs.live, codex_runs.requested
    assert {c.model for c in unrouted} == {GPT}
    first_mini = next(i for i, c in enumerate(live) if c.model != GPT)
    assert all(live[i].reasoning_items == unrouted[i].reasoning_items for i in range(first_mini))
    assert live[first_mini].reasoning_items == 0 < unrouted[first_mini].reasoning_items
    back = next(i for i in range(first_mini, len(live)) if live[i].model == GPT)
    assert 0 < live[back].reasoning_items < unrouted[back].reasoning_items
    # gpt-5.5's own prefix is intact on its return: that request costs little more than unrouted
    assert live[back].cost - unrouted[back].cost < 0.6 * unrouted[back].cost


def test_holdout_sessions_are_served_as_requested_in_live_mode(tmp_path: Path) -> None:
    held = next(f"routing-held-{i}" for i in range(1000) if in_holdout(f"routing-held-{i}", 0.1))
    calls = run("live", tmp_path, claude_code, opus_everywhere, held)
    assert {c.model for c in calls} == {OPUS}
    assert all(c.savings == 0 for c in calls)


def test_a_quota_probe_stays_on_the_requested_model(tmp_path: Path) -> None:
    clock = ManualClock()
    script = CachedScript(clock=clock)
    fake = FakeUpstream(script=script, record=False).start()
    env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(tmp_path))
        gw = GatewayThread(env=env, config=Config(mode="live")).start()
        try:
            headers, body = capture("claude-code", "messages_interactive_title_generation.json")
            body.update(model=OPUS, max_tokens=1, messages=[{"role": "user", "content": "quota"}])
            body.pop("output_config", None)
            messages(Rig(gw, fake, script, clock), headers, body)
            event = recorded_events(Rig(gw, fake, script, clock), 1)[0]
        finally:
            gw.stop()
            fake.stop()
    assert [s.model for s in script.log()] == [OPUS]
    assert event["route_class"] == "background" and event["signals"]["is_quota_probe"] is True
    assert any("quota probe" in r for r in event["signals"]["plan_reasons"])


def test_a_mid_session_move_off_a_warm_cache_is_vetoed_with_its_numbers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Cheap edits routed one tier down (Sonnet): the cold write on Sonnet costs more than the
    task would save off the warm Opus cache, so the move is not taken, and the event says why."""
    session = _session_ids()[0]
    calls, events = run_with_events(
        "live",
        tmp_path_factory.mktemp("veto"),
        claude_code,
        opus_everywhere,
        session,
        {"cheap_edit": ("cheaper",)},
    )
    assert all(c.model == OPUS for c in calls if c.kind == "main")
    edits = [
        e for e in events if e["route_class"] == "cheap_edit" and e["signals"]["task"]["task"] == "start"
    ]
    assert edits, [e["route_class"] for e in events]
    candidate = edits[0]["signals"]["task"]["candidates"][0]
    assert candidate["target"] == "anthropic/claude-sonnet-4-6" and candidate["taken"] is False
    assert candidate["why"].startswith("loses $") and candidate["cold_write"] > 0


def test_a_whole_task_moved_to_a_five_times_cheaper_tier_pays_and_stays_on_it(
    tmp_path_factory: pytest.TempPathFactory, claude_runs: Runs
) -> None:
    """Cheap edits routed to the bottom tier (Haiku): over the whole task the cold write pays back
    (the Opus cache lives on through it), so the move is taken, the tool loop stays on Haiku, and
    the session costs less than as requested."""
    session = _session_ids()[0]
    calls, _ = run_with_events(
        "live",
        tmp_path_factory.mktemp("haiku"),
        claude_code,
        opus_everywhere,
        session,
        {"cheap_edit": ("cheapest",)},
    )
    moved = [c for c in calls if c.kind == "main" and c.model != OPUS]
    assert moved and {c.model for c in moved} == {"claude-haiku-4-5"}
    assert len({c.task for c in moved}) == 1 and len(moved) == 3  # the edit task: its ask and two rounds
    assert spend(calls) < spend(claude_runs.live)
