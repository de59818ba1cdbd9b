"""The "Routed vs held out" panel of the Routes view in a real headless Chromium: live-mode tasks
written into the gateway's store, the figures per group and the routed-vs-held-out differences
as ``GET /routing/holdout`` computes them, the range switch, and the empty state."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import insert_events, open_db
from tests.fakes.gateway import GatewayThread
from tests.webui.browser import Browser
from tests.webui.test_dashboard_browser import open_view, wait_text

pytestmark = pytest.mark.e2e
MINUS = "\u2212"


def _live(
    task: str, session: str, held: bool, cost: float, ago: float = 30, **kw: Any
) -> GatewayRequestEvent:
    return GatewayRequestEvent(
        ts=time.time() - ago,
        mode="live",
        session_id=session,
        task_id=task,
        holdout=held,
        cost_usd=cost,
        **kw,
    )


def _seed(database: Path) -> None:
    events = [
        # Routed: 2 sessions, 4 tasks, 8 requests (2.00/task), 2 tool errors, 1 retry, $0.40 ($0.10/task).
        *[_live(f"r{i}", f"s{i % 2}", False, 0.05) for i in range(4)],
        _live("r0", "s0", False, 0.05, signals={"tool_errors": 2}),
        _live("r1", "s1", False, 0.05, signals={"retry": True}),
        _live("r2", "s0", False, 0.05),
        _live("r3", "s1", False, 0.05),
        # Held out: 1 session, 2 tasks, 3 requests (1.50/task), no errors, no retries, $0.40 ($0.20/task).
        _live("h0", "s9", True, 0.20),
        _live("h0", "s9", True, 0.10),
        _live("h1", "s9", True, 0.10),
        # Ten days ago: only in the 30-day range.
        _live("old", "s8", True, 1.00, ago=10 * 86_400),
    ]
    conn = open_db(database)
    try:
        insert_events(conn, events)
    finally:
        conn.close()


def cells(browser: Browser, metric: str) -> list[str]:
    return browser.texts(f"#holdout-table tr[data-metric='{metric}'] td")


def test_routed_vs_held_out_panel(gateway: GatewayThread, database: Path, browser: Browser) -> None:
    _seed(database)
    open_view(browser, gateway, "routes")
    wait_text(browser, "#holdout-table tr[data-metric='tasks'] td.routed", "4")
    assert cells(browser, "sessions") == ["Sessions", "2", "1", ""]
    assert cells(browser, "tasks") == ["Tasks", "4", "2", ""]
    # 2.00 vs 1.50 requests per task: routed needs a third more (worse: shown as negative).
    assert cells(browser, "requests_per_task") == ["Requests per task", "2.00", "1.50", "+33%"]
    diff = "#holdout-table tr[data-metric='requests_per_task'] td.diff span"
    assert browser.eval(f"document.querySelector({json.dumps(diff)}).className") == "neg"
    assert cells(browser, "tool_errors")[1:3] == ["2 (0.50 per task)", "0 (0.00 per task)"]
    assert cells(browser, "tool_errors")[3] == "—"  # nothing to compare against
    assert cells(browser, "retries")[1:3] == ["1 (0.25 per task)", "0 (0.00 per task)"]
    # $0.10 vs $0.20 per task: routing halves the cost of a task.
    assert cells(browser, "cost_per_task_usd") == ["Cost per task", "$0.10", "$0.20", MINUS + "50%"]
    assert "serves 10% of sessions as requested" in browser.text("#holdout-note")

    browser.call("click", selector=".range button[data-since='30d']")
    wait_text(browser, "#holdout-table tr[data-metric='tasks'] td.held", "3")
    assert cells(browser, "cost_per_task_usd")[2] == "$0.47"  # ($0.40 + $1.00) / 3
    assert browser.call("consoleErrors") == []


def test_without_live_tasks_the_panel_says_how_it_fills(gateway: GatewayThread, browser: Browser) -> None:
    open_view(browser, gateway, "routes")
    assert "No live-mode tasks in this range yet" in browser.text("#holdout-note")
    assert cells(browser, "tasks") == ["Tasks", "0", "0", ""]
    assert cells(browser, "cost_per_task_usd") == ["Cost per task", "—", "—", "—"]
    assert browser.call("consoleErrors") == []
