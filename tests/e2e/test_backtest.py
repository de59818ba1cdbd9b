"""The backtest predicts live spend: replaying a shadow session through a route table costs what
running it live with that table costs.

The Claude Code-shaped session of ``test_projection_truth`` (Sonnet 4.5, 1-hour markers and the
1M beta on the main conversation, a title call, a subagent, idle gaps past 5 minutes and past an
hour, a turn past 200k) runs twice, each time against a FRESH cache-faithful fake and a fresh
gateway whose caches and event timestamps follow the fake's manual clock:

1. in shadow mode with the default route table (every call served by Sonnet), then
   ``POST /backtest`` replays the recorded events through summary/background → Haiku 4.5;
2. in live mode with that table (the moved calls served by Haiku).

The truth is the live run's spend priced by the tests' own cost function
(``tests.costs.reference``) from the usage the fake logged, never by product code. The
backtest's simulated spend must be within 2 % of it; its actual spend is the shadow run's
reference spend; the per-class and per-session rows add up to the totals.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.control.gatewaykey import load_or_create_gateway_key
from stackbilt_gateway.daemon.control.paths import HOME_ENV, Paths
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import CachedScript
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.cli.conftest import free_port, paths, run_cli, stopped_daemon
from tests.costs.reference import buckets_of, reference_cost
from tests.e2e.conftest import upstream_env
from tests.e2e.test_cost_truth import Rig, recorded_events
from tests.e2e.test_projection_truth import HAIKU, ROUTES, session
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e
__all__ = ["free_port", "paths", "stopped_daemon"]  # fixtures of the CLI tests, used below

# The backtest's simulated spend may miss the live run's true spend by this share.
PREDICTION_GAP = 0.02
_AUTH = {"x-api-key": GATEWAY_KEY}
TABLE = {name: list(targets) for name, targets in ROUTES.items()}


@dataclass(frozen=True)
class Run:
    true_spend: float  # the reference cost of every call the fake served
    models: list[str]  # the model of each call, in order
    backtests: dict[str, dict[str, Any]]  # label → the /backtest answer after the run


def run(mode: str, config: Config, home: Path, tables: dict[str, dict[str, list[str]] | None]) -> Run:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))  # each run its own telemetry database
        clock = ManualClock()
        script = CachedScript(clock=clock, reasoning_tokens=900)
        fake = FakeUpstream(script=script, record=False).start()
        env = {"STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"), "ANTHROPIC_API_KEY": "sk-ant-fake"}
        gw = GatewayThread(env=env, config=config).start()
        try:
            assert gw._server is not None
            state = gw._server.app.extensions["stackbilt"]
            state.router.caches.clock = clock  # the fake's time, for the caches …
            assert state.recorder is not None
            state.recorder.clock = clock  # … and for the events the backtest replays
            rig = Rig(gw, fake, script, clock)
            session(rig)
            served = sorted(script.log(), key=lambda s: s.number)
            events = recorded_events(rig, len(served))
            assert all(e["status"] == "ok" and e["mode"] == mode for e in events)
            backtests = {}
            for label, table in tables.items():
                body: dict[str, Any] = {"since": "all", **({"routes": table} if table is not None else {})}
                got = httpx.post(f"{gw.url}/backtest", json=body, headers=_AUTH, timeout=30)
                assert got.status_code == 200, got.text[:500]
                backtests[label] = got.json()
        finally:
            gw.stop()
            fake.stop()
    spend = sum(
        reference_cost(call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas)
        for call in served
    )
    return Run(spend, [call.model for call in served], backtests)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    shadow = run(
        "shadow",
        Config(mode="shadow"),
        tmp_path_factory.mktemp("shadow"),
        {"table": TABLE, "own": None},
    )
    live = run(
        "live",
        Config(routes=dict(ROUTES), mode="live"),
        tmp_path_factory.mktemp("live"),
        {"own": None, "unrouted": {"summary": ["requested"], "background": ["requested"]}},
    )
    yield shadow, live


def _close(a: float, b: float, share: float) -> bool:
    return abs(a - b) <= share * max(abs(a), abs(b))


def test_the_backtest_predicts_the_live_run(runs: tuple[Run, Run]) -> None:
    shadow, live = runs
    report = shadow.backtests["table"]
    totals = report["totals"]
    numbers = {
        "shadow_true_spend": round(shadow.true_spend, 6),
        "live_true_spend": round(live.true_spend, 6),
        "backtest_actual": totals["actual_usd"],
        "backtest_simulated": totals["simulated_usd"],
        "backtest_savings": totals["savings_usd"],
        "true_savings": round(shadow.true_spend - live.true_spend, 6),
        "by_class": {k: (v["actual_usd"], v["simulated_usd"]) for k, v in report["by_class"].items()},
    }
    print(json.dumps(numbers, indent=1))
    assert set(shadow.models) == {"claude-sonnet-4-5"} and HAIKU in live.models
    assert _close(totals["simulated_usd"], live.true_spend, PREDICTION_GAP), numbers
    assert _close(totals["actual_usd"], shadow.true_spend, 0.005), numbers
    true_savings = shadow.true_spend - live.true_spend
    assert abs(totals["savings_usd"] - true_savings) <= PREDICTION_GAP * live.true_spend, numbers


def test_the_backtest_moves_what_live_mode_moved(runs: tuple[Run, Run]) -> None:
    shadow, live = runs
    report = shadow.backtests["table"]
    moved_live = sum(1 for model in live.models if model == HAIKU)
    # per task: the title and the subagent's run (its first turn and its tool loop); the summary
    # ask on the main conversation after the hour stays (moving it would only postpone Sonnet's
    # re-write), in the replay as live
    assert report["totals"]["moves_taken"] == moved_live == 4
    assert {m["to"] for m in report["moves_taken"]} == {f"anthropic/{HAIKU}"}
    assert sorted(m["route_class"] for m in report["moves_taken"]) == [
        "background",
        "summary",
        "tool_loop",
        "tool_loop",
    ]
    assert report["totals"]["requests"] == len(shadow.models) and report["skipped"] == 0
    # The daemon's own (default) table: the fresh-context lane moves the title one tier down
    # (Sonnet 4.5 -> Haiku 4.5; the subagent capture carries another session id here, so it is not
    # recognised as this session's subagent); its summary/background routes to Groq, which has no
    # key here, are refused with the reason.
    own = shadow.backtests["own"]
    lane = sorted(m["route_class"] for m in own["moves_taken"])
    assert lane == ["background"], own["moves_taken"]
    assert own["totals"]["savings_usd"] > 0
    for move in own["moves_refused"]:
        assert move["to"] is None and move["rule"]
        assert any("provider not configured" in reason for reason in move["reasons"]), move


def test_rows_add_up_to_the_totals(runs: tuple[Run, Run]) -> None:
    for run_ in runs:
        for report in run_.backtests.values():
            totals = report["totals"]
            for rows in (report["by_class"], report["by_session"]):
                for key in ("requests", "moves_taken", "moves_refused"):
                    assert sum(r[key] for r in rows.values()) == totals[key]
                for key in ("actual_usd", "simulated_usd", "savings_usd"):
                    assert sum(r[key] for r in rows.values()) == pytest.approx(totals[key], abs=1e-6)
            assert len(report["by_session"]) >= 1


def test_a_live_run_replayed_through_its_own_table_changes_nothing(runs: tuple[Run, Run]) -> None:
    shadow, live = runs
    own = live.backtests["own"]["totals"]
    assert own["moves_taken"] == 4
    assert _close(own["actual_usd"], live.true_spend, 0.005)
    assert own["simulated_usd"] == pytest.approx(own["actual_usd"], rel=1e-9)
    # Replayed unrouted, the live run costs what the shadow run cost.
    unrouted = live.backtests["unrouted"]["totals"]
    assert unrouted["moves_taken"] == 1  # a table of "requested" still has the lane: the title moves
    assert _close(unrouted["simulated_usd"], shadow.true_spend, PREDICTION_GAP), (unrouted, shadow.true_spend)


def test_the_backtest_refuses_a_bad_table(runs: tuple[Run, Run]) -> None:
    del runs  # the gateways are gone; a fresh one answers this
    gw = GatewayThread(env={}).start()
    try:
        bad = httpx.post(f"{gw.url}/backtest", json={"routes": {"nonsense": ["a/b"]}}, headers=_AUTH)
        assert bad.status_code == 400 and "unknown route class" in bad.text
        assert httpx.post(f"{gw.url}/backtest", json={}).status_code == 401
        empty = httpx.get(f"{gw.url}/backtest", params={"since": "7d"}, headers=_AUTH)
        assert empty.status_code == 200 and empty.json()["totals"]["requests"] == 0
    finally:
        gw.stop()


def test_the_cli_without_a_daemon_says_so_in_one_line() -> None:
    out = run_cli("backtest")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "stackbilt-gw: the gateway is not running; start it with `stackbilt-gw start`"
    ]
    bad = run_cli("backtest", "--routes", "{not json")
    assert bad.returncode == 2 and "--routes is not JSON" in bad.stderr


def test_the_cli_backtests_a_running_daemon(
    stopped_daemon: Paths, free_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeUpstream().start()
    try:
        for name, value in upstream_env(fake).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        started = run_cli("start", "--port", str(free_port))
        assert started.returncode == 0, started.stderr
        key, _ = load_or_create_gateway_key(stopped_daemon, dict(os.environ))
        body = {"model": "claude-opus-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(3):
            r = httpx.post(
                f"http://127.0.0.1:{free_port}/v1/messages", json=body, headers={"x-api-key": key}, timeout=10
            )
            assert r.status_code == 200
        config = tmp_path / "what-if.json"
        config.write_text(json.dumps({"port": 1, "routes": {"cheap_edit": ["requested"]}}))
        deadline = time.monotonic() + 10
        report: dict[str, Any] = {}
        while time.monotonic() < deadline:
            out = run_cli("backtest", "--since", "today", "--config", str(config), "--json")
            assert out.returncode == 0, out.stderr
            report = json.loads(out.stdout)
            if report["totals"]["requests"] == 3:
                break
            time.sleep(0.2)
        assert report["totals"]["requests"] == 3 and report["routes"]["cheap_edit"] == ["requested"]
        assert report["totals"]["actual_usd"] > 0
        text = run_cli("backtest", "--routes", '{"summary": ["requested"]}')
        assert text.returncode == 0, text.stderr
        assert (
            "by route class" in text.stdout and "by session" in text.stdout and "simulated $" in text.stdout
        )
        unknown = run_cli("backtest", "--routes", '{"nonsense": ["a/b"]}')
        assert unknown.returncode == 1 and "unknown route class" in unknown.stderr
    finally:
        fake.stop()
