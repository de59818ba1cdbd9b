"""The real Claude Code in live mode spawns a subagent: the subagent's run is served one tier down
(the fresh-context lane), the main conversation stays on the requested model, the session completes.

The fake upstream answers the main request with an ``Agent`` tool call (``RUN_AGENT:`` marker); the
pinned CLI then starts a subagent whose requests reach the same gateway with the same session id,
its own system block and a smaller tool set. The session id is fixed (``--session-id``) to one
outside the 10 % holdout, so the test does not depend on the draw.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.routing.tasks import in_holdout
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import run_claude
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

OPUS = "claude-opus-4-6"
SONNET = "claude-sonnet-4-6"
SESSION = "6f1b3c2a-0d4e-4c8b-9a7f-2e5d1c0b9a11"
SUBAGENT_PROMPT = "Say hello from the subagent"
SUBAGENT_SYSTEM = "You are an agent for Claude Code"


def _system(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, list):
        return " ".join(b.get("text", "") for b in system if isinstance(b, dict))
    return system if isinstance(system, str) else ""


def _events(gw: GatewayThread, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", headers={"x-api-key": GATEWAY_KEY}, timeout=5).json()[
            "events"
        ]
        if len(rows) >= n:
            break
        time.sleep(0.1)
    return sorted(rows, key=lambda e: e["ts"])


def test_the_subagent_runs_one_tier_down_and_the_main_agent_stays(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    assert not in_holdout(SESSION, Config().routing.holdout)
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=Config(mode="live")).start()
    try:
        work = tmp_path / "work"
        work.mkdir()
        run = run_claude(
            f"RUN_AGENT: {SUBAGENT_PROMPT}",
            base_url=gw.url,
            home=tmp_path / "home",
            cwd=work,
            model=OPUS,
            env={"ANTHROPIC_API_KEY": GATEWAY_KEY},
            args=["--allowedTools", "Agent", "--session-id", SESSION],
            timeout=180,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        result = run.json()
        assert result["is_error"] is False and result["subagent_stats"]["completed"] == 1, run.stdout[-1000:]
        calls = fake_upstream.calls("/v1/messages")
        # Each request the CLI made: the subagent's carry its own system block ("an agent for Claude
        # Code"), the main agent's do not; titles and other housekeeping calls offer no tools.
        served = [(c.body.get("model"), _system(c.body), bool(c.body.get("tools"))) for c in calls]
        main = [model for model, system, tools in served if tools and SUBAGENT_SYSTEM not in system]
        sub = [model for model, system, tools in served if tools and SUBAGENT_SYSTEM in system]
        assert main and set(main) == {OPUS}, served
        assert sub and set(sub) == {SONNET}, served
        events = _events(gw, len(calls))
        subagent_events = [e for e in events if e["selected_model"] == SONNET]
        assert subagent_events and all(e["requested_model"] == OPUS for e in subagent_events)
        first = subagent_events[0]
        assert (
            first["signals"].get("fresh_context") is True
            and first["signals"]["task"]["fresh_context"] == "subagent run"
        )
        assert len({e["task_id"] for e in subagent_events}) == 1, "the subagent's run is one task"
        assert all(e["session_id"] == SESSION for e in events if e["selected_model"] in (OPUS, SONNET))
    finally:
        gw.stop()
