"""The routing holdout comparison (``telemetry.holdout``) against a real SQLite database filled
with hand-built events and hand-computed answers, and ``GET /routing/holdout`` over real HTTP
(gateway key, dashboard session, bad input)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.holdout import compare
from stackbilt_gateway.daemon.telemetry.store import db_path, insert_events, open_db
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

NOW = time.time()


def _live(task: str | None, session: str, *, held: bool = False, **kw: Any) -> GatewayRequestEvent:
    base: dict[str, Any] = {
        "ts": NOW - 60,
        "mode": "live",
        "session_id": session,
        "task_id": task,
        "holdout": held,
        "cost_usd": 0.10,
    }
    return GatewayRequestEvent(**{**base, **kw})


def corpus() -> list[GatewayRequestEvent]:
    return [
        # Routed: 2 sessions, 3 tasks, 6 requests, 1 + 2 tool errors, 1 retry, $0.60 → $0.20/task.
        _live("t1", "s1"),
        _live("t1", "s1", signals={"tool_errors": 1}),
        _live("t1", "s1", signals={"retry": True}),
        _live("t2", "s1"),
        _live("t3", "s2", signals={"tool_errors": 2, "retry": False}),
        _live("t3", "s2"),
        # Held out: 1 session, 2 tasks, 3 requests, no tool errors, 2 retries, $0.90 → $0.45/task.
        _live("h1", "s3", held=True, cost_usd=0.40, signals={"retry": True}),
        _live("h1", "s3", held=True, cost_usd=0.20, signals={"retry": True}),
        _live("h2", "s3", held=True, cost_usd=0.30),
        # Never counted: shadow mode, no task (not routed per task), refused, and too old.
        _live("x1", "s9", mode="shadow", signals={"tool_errors": 5}),
        _live(None, "s9", cost_usd=3.0),
        _live("x2", "s9", status="refused", error_class="budget.total.daily", cost_usd=None),
        _live("x3", "s9", held=True, ts=NOW - 40 * 86_400, cost_usd=5.0),
    ]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "events.db"
    conn = open_db(path)
    try:
        insert_events(conn, corpus())
    finally:
        conn.close()
    return path


def test_routed_and_held_out_are_compared_per_task(database: Path) -> None:
    out = compare(database, since=NOW - 30 * 86_400)
    assert out["routed"] == {
        "sessions": 2,
        "tasks": 3,
        "requests": 6,
        "requests_per_task": pytest.approx(2.0),
        "tool_errors": 3,
        "tool_errors_per_task": pytest.approx(1.0),
        "retries": 1,
        "retries_per_task": pytest.approx(1 / 3),
        "cost_usd": pytest.approx(0.60),
        "cost_per_task_usd": pytest.approx(0.20),
    }
    assert out["held_out"] == {
        "sessions": 1,
        "tasks": 2,
        "requests": 3,
        "requests_per_task": pytest.approx(1.5),
        "tool_errors": 0,
        "tool_errors_per_task": pytest.approx(0.0),
        "retries": 2,
        "retries_per_task": pytest.approx(1.0),
        "cost_usd": pytest.approx(0.90),
        "cost_per_task_usd": pytest.approx(0.45),
    }
    diff = out["difference"]
    assert diff["requests_per_task"] == pytest.approx(2.0 / 1.5 - 1)
    assert diff["cost_per_task_usd"] == pytest.approx(0.20 / 0.45 - 1)
    assert diff["retries_per_task"] == pytest.approx(-2 / 3)
    assert diff["tool_errors_per_task"] is None  # nothing to compare against (0 held out)


def test_since_bounds_the_window_and_all_reads_everything(database: Path) -> None:
    assert compare(database, since=NOW + 1)["routed"]["tasks"] == 0
    everything = compare(database, since=None)
    assert everything["held_out"]["tasks"] == 3 and everything["held_out"]["cost_usd"] == pytest.approx(5.9)


def test_empty_groups_have_no_per_task_figures(tmp_path: Path) -> None:
    missing = compare(tmp_path / "nothing.db")
    for group in ("routed", "held_out"):
        assert missing[group]["tasks"] == 0 and missing[group]["requests"] == 0
        assert missing[group]["requests_per_task"] is None and missing[group]["cost_per_task_usd"] is None
    assert all(v is None for v in missing["difference"].values())
    only_routed = tmp_path / "routed.db"
    conn = open_db(only_routed)
    insert_events(conn, [_live("t1", "s1")])
    conn.close()
    out = compare(only_routed)
    assert out["routed"]["tasks"] == 1 and out["held_out"]["tasks"] == 0
    assert out["difference"]["cost_per_task_usd"] is None


def test_a_damaged_signals_row_does_not_break_the_query(database: Path) -> None:
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE events SET signals = '{not json' WHERE task_id = 'h2'")
        conn.execute("UPDATE events SET holdout = 7 WHERE task_id = 'h1'")  # any non-zero: held out
    conn.close()
    out = compare(database, since=NOW - 30 * 86_400)
    assert out["held_out"]["tasks"] == 2 and out["held_out"]["retries"] == 2
    assert out["routed"]["tool_errors"] == 3


def test_a_database_before_the_task_columns_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (id TEXT, ts REAL, mode TEXT, signals TEXT, cost_usd REAL)")
    conn.execute("INSERT INTO events VALUES ('a', ?, 'live', '{}', 1.0)", (NOW,))
    conn.commit()
    conn.close()
    assert compare(path)["routed"]["requests"] == 0


# -- the endpoint ------------------------------------------------------------------------------


@pytest.fixture
def gateway(isolated_home: Path) -> Iterator[GatewayThread]:
    database = db_path(resolve_paths({"STACKBILT_GATEWAY_HOME": str(isolated_home)}).data_dir)
    database.parent.mkdir(parents=True, exist_ok=True)
    conn = open_db(database)
    insert_events(conn, corpus())
    conn.close()
    gw = GatewayThread(env={}).start()
    yield gw
    gw.stop()


def test_the_endpoint_answers_with_the_key_and_the_dashboard_session(gateway: GatewayThread) -> None:
    with httpx.Client(base_url=gateway.url, trust_env=False, timeout=10.0) as http:
        assert http.get("/routing/holdout").status_code == 401
        r = http.get("/routing/holdout", params={"since": "30d"}, headers={"x-api-key": GATEWAY_KEY})
        assert r.status_code == 200
        body = r.json()
        assert body["since"] == "30d" and body["holdout_share"] == pytest.approx(0.1)
        assert body["routed"]["tasks"] == 3 and body["held_out"]["cost_per_task_usd"] == pytest.approx(0.45)
        default = http.get("/routing/holdout", headers={"x-api-key": GATEWAY_KEY}).json()
        assert default["since"] == "7d" and default["held_out"]["tasks"] == 2
        bad = http.get("/routing/holdout", params={"since": "yesterday"}, headers={"x-api-key": GATEWAY_KEY})
        assert bad.status_code == 400 and "since must be" in bad.json()["error"]["message"]
        token = http.post("/control/session", headers={"x-api-key": GATEWAY_KEY}, json={}).json()["url"]
        assert http.get(token, follow_redirects=False).status_code == 303
        viewed = http.get("/routing/holdout", params={"since": "all"})
        assert viewed.status_code == 200 and viewed.json()["held_out"]["tasks"] == 3
