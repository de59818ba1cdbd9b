"""Tray budget notifications: a ``warn`` budget used up is notified once per budget per period.

The controller runs against a real daemon (started by the tray's own "Start gateway") whose config
has warn, block and degrade budgets and whose telemetry database already holds today's spend; the
reading of ``/governance`` answers and the once-per-period rule are checked on their own too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import db_path, insert_events, open_db
from stackbilt_gateway.tray.budgets import BudgetNotices, BudgetView, budgets_of
from tests.desktop.test_tray import Harness


def _spent_today(paths: Paths, usd: float) -> None:
    path = db_path(paths.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = open_db(path)
    try:
        insert_events(conn, [GatewayRequestEvent(ts=time.time() - 5, client_id="local", cost_usd=usd)])
    finally:
        conn.close()


def test_a_used_up_warn_budget_is_notified_once(gw_paths: Paths, tmp_path: Path) -> None:
    gw_paths.config_dir.mkdir(parents=True, exist_ok=True)
    gw_paths.user_config_file.write_text(
        json.dumps(
            {
                "budgets": {"total": {"daily_usd": 1.0, "monthly_usd": 100.0, "action": "warn"}},
                "clients": {"team": {"budget_daily_usd": 0.5, "budget_action": "block"}},
            }
        )
    )
    _spent_today(gw_paths, 1.25)
    harness = Harness(gw_paths, tmp_path)
    assert harness.c.start_daemon()
    harness.c.refresh()
    harness.c.refresh()
    budget_notes = [n for n in harness.notes if "budget" in n]
    # The daily total (warn, $1.25 of $1.00) only: the monthly one is not used up, and the
    # client's block budget has spent nothing (and is not a warn budget).
    assert len(budget_notes) == 1, harness.notes
    note = budget_notes[0]
    assert note.startswith("The daily budget of the total ($1.00) is used up: $1.25 spent.")
    assert "resets at" in note


def _view(**kw: Any) -> BudgetView:
    base: dict[str, Any] = {
        "scope": "client",
        "key": "team",
        "period": "daily",
        "limit_usd": 2.0,
        "spent_usd": 2.0,
        "action": "warn",
        "resets_at": 1000.0,
    }
    return BudgetView(**{**base, **kw})


def test_once_per_budget_per_period() -> None:
    notices = BudgetNotices()
    assert notices.due([_view(spent_usd=1.99)]) == []  # below its limit
    first = notices.due([_view()])  # exactly at the limit
    assert len(first) == 1 and "The daily budget of client 'team' ($2.00)" in first[0]
    assert notices.due([_view(spent_usd=3.0)]) == []  # same period: said once
    assert len(notices.due([_view(spent_usd=2.5, resets_at=2000.0)])) == 1  # the next day
    blocked = [_view(action="block", key="b"), _view(action="degrade", key="d")]
    assert notices.due([_view(resets_at=2000.0), *blocked]) == []  # only warn budgets notify
    monthly = notices.due([_view(resets_at=2000.0), _view(period="monthly", resets_at=9000.0)])
    assert len(monthly) == 1 and monthly[0].startswith("The monthly budget of client 'team'")
    # A budget gone from the config is forgotten; coming back in the same period notifies again.
    assert notices.due([]) == []
    assert len(notices.due([_view(resets_at=2000.0)])) == 1


def test_governance_answers_are_read_defensively() -> None:
    good = {
        "scope": "total",
        "key": "total",
        "period": "daily",
        "limit_usd": 1,
        "action": "warn",
        "spent_usd": 1.5,
        "resets_at": 5.0,
    }
    answer = {
        "budgets": [
            good,
            {**good, "limit_usd": "1"},
            {**good, "scope": None},
            "x",
            {**good, "spent_usd": True},
        ]
    }
    assert budgets_of(answer) == [BudgetView("total", "total", "daily", 1.0, 1.5, "warn", 5.0)]
    for bad in (None, [], {"budgets": None}, {"budgets": {"a": 1}}, {}):
        assert budgets_of(bad) == []
