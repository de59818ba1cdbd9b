"""The routing holdout comparison: routed vs held-out sessions of live mode, side by side.

``compare`` reads the live-mode events that belong to a task (``task_id`` set: the request went
through the per-task routing decision) and groups them by the ``holdout`` column: sessions,
tasks (distinct ``task_id``), requests per task, tool-error results (``signals.tool_errors``),
client retries (``signals.retry``) and cost per task. It is the user's own quality check that
cheaper routing did not make the agent flail. Refused requests and shadow-mode events are left
out (neither was routed). Opens its own read-only connection (call via ``asyncio.to_thread``); a
missing database, or one without the task columns yet, reads as empty. Knows nothing of HTTP.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .queries import events_reader

GROUPS = {0: "routed", 1: "held_out"}
_NEEDED = frozenset({"task_id", "holdout", "signals", "mode", "session_id", "cost_usd"})

# Signals are JSON written by the gateway; json_valid guards a hand-edited or damaged row, which
# would otherwise fail the whole query.
_SQL = """
SELECT (COALESCE(holdout, 0) != 0) AS held,
  COUNT(DISTINCT session_id) AS sessions,
  COUNT(DISTINCT task_id) AS tasks,
  COUNT(*) AS requests,
  COALESCE(SUM(CASE WHEN json_valid(signals)
    THEN CAST(COALESCE(json_extract(signals, '$.tool_errors'), 0) AS INTEGER) ELSE 0 END), 0) AS tool_errors,
  COALESCE(SUM(CASE WHEN json_valid(signals) AND json_extract(signals, '$.retry') = 1 THEN 1 ELSE 0 END), 0)
    AS retries,
  COALESCE(SUM(cost_usd), 0.0) AS cost_usd
FROM events
WHERE mode = 'live' AND task_id IS NOT NULL AND status != 'refused' AND ts >= ?
GROUP BY held
"""


def _per(value: float, tasks: int) -> float | None:
    return value / tasks if tasks else None


def empty_group() -> dict[str, Any]:
    return _group({})


def _group(row: dict[str, Any]) -> dict[str, Any]:
    tasks = int(row.get("tasks") or 0)
    requests = int(row.get("requests") or 0)
    tool_errors = int(row.get("tool_errors") or 0)
    retries = int(row.get("retries") or 0)
    cost = float(row.get("cost_usd") or 0.0)
    return {
        "sessions": int(row.get("sessions") or 0),
        "tasks": tasks,
        "requests": requests,
        "requests_per_task": _per(requests, tasks),
        "tool_errors": tool_errors,
        "tool_errors_per_task": _per(tool_errors, tasks),
        "retries": retries,
        "retries_per_task": _per(retries, tasks),
        "cost_usd": cost,
        "cost_per_task_usd": _per(cost, tasks),
    }


def _has_columns(conn: sqlite3.Connection) -> bool:
    have = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    return _NEEDED <= have


def _ratio(routed: float | None, held: float | None) -> float | None:
    """routed / held_out - 1 (e.g. -0.25: routed tasks cost 25 % less); None when not comparable."""
    if routed is None or held is None or held == 0:
        return None
    return routed / held - 1.0


def compare(path: Path, *, since: float | None = None) -> dict[str, Any]:
    """``{"routed": {...}, "held_out": {...}, "difference": {...}}`` over live events since ``since``."""
    groups = {name: empty_group() for name in GROUPS.values()}
    with events_reader(path) as conn:
        if conn is not None and _has_columns(conn):
            for row in conn.execute(_SQL, (since or 0.0,)):
                groups[GROUPS[int(row["held"])]] = _group(dict(row))
    routed, held = groups["routed"], groups["held_out"]
    difference = {
        name: _ratio(routed[name], held[name])
        for name in ("requests_per_task", "tool_errors_per_task", "retries_per_task", "cost_per_task_usd")
    }
    return {**groups, "difference": difference}
