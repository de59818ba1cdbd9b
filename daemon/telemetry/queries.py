"""Read-side telemetry queries for /events/recent, /metrics, /shadow/stats and ``stats``.

Every call opens its own short-lived read connection and closes it, so it is safe from any
thread (call it via ``asyncio.to_thread`` from the event loop). A missing database reads as
empty. Days are local-time calendar days. Does not write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ..storage.sqlite import connect
from .events import from_row

GroupBy = Literal["provider", "model", "route_class", "client", "day"]
_GROUP_SQL: dict[str, str] = {
    "provider": "COALESCE(selected_provider, requested_provider)",
    "model": (
        "COALESCE(selected_provider, requested_provider) || '/' || COALESCE(selected_model, requested_model)"
    ),
    "route_class": "route_class",
    "client": "client",
    "day": "strftime('%Y-%m-%d', ts, 'unixepoch', 'localtime')",
}
SUMS_SQL = """
    COUNT(*) AS requests,
    COALESCE(SUM(input_tokens), 0) AS input_tokens,
    COALESCE(SUM(output_tokens), 0) AS output_tokens,
    COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
    COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
    COALESCE(SUM(cache_write_1h_tokens), 0) AS cache_write_1h_tokens,
    COALESCE(SUM(cost_usd), 0.0) AS cost_usd,
    COALESCE(SUM(would_cost_usd), 0.0) AS would_cost_usd,
    COALESCE(SUM(savings_usd), 0.0) AS savings_usd,
    COALESCE(SUM(CASE WHEN mode = 'live' THEN 0.0 ELSE savings_usd END), 0.0) AS savings_projected_usd,
    COALESCE(SUM(CASE WHEN mode = 'live' THEN savings_usd ELSE 0.0 END), 0.0) AS savings_realised_usd,
    COALESCE(SUM(CASE WHEN status != 'ok' THEN 1 ELSE 0 END), 0) AS errors,
    COALESCE(SUM(CASE WHEN instr(signals, 'effort_saving_usd') > 0 AND json_valid(signals)
        THEN json_extract(signals, '$.effort_saving_usd') END), 0.0) AS savings_effort_usd
"""


@contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.exists():
        yield None
        return
    conn = connect(path, readonly=True)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def events_reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection when the database and its events table exist, else None."""
    with _reader(path) as conn:
        yield conn if conn is not None and _has_events(conn) else None


def _has_events(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
    return row is not None


def event_by_id(path: Path, event_id: str) -> dict[str, Any] | None:
    """One stored event by its id (None when there is none)."""
    with _reader(path) as conn:
        if conn is None or not _has_events(conn):
            return None
        row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return from_row(dict(row)) if row is not None else None


def recent(
    path: Path,
    *,
    limit: int = 50,
    offset: int = 0,
    client: str | None = None,
    provider: str | None = None,
    route_class: str | None = None,
    status: str | None = None,
    since: float | None = None,
) -> list[dict[str, Any]]:
    """Newest first. ``provider`` matches the provider that served the request."""
    where: list[str] = []
    args: list[object] = []
    for column, value in (
        ("client", client),
        ("selected_provider", provider),
        ("route_class", route_class),
        ("status", status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    sql = "SELECT * FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?"
    args += [max(0, min(limit, 1000)), max(0, offset)]
    with _reader(path) as conn:
        if conn is None or not _has_events(conn):
            return []
        return [from_row(dict(row)) for row in conn.execute(sql, args)]


def aggregates(path: Path, by: GroupBy, *, since: float | None = None) -> list[dict[str, Any]]:
    """Sums per group (``key``), biggest cost first (days: oldest first). Per route class, the
    savings a same-model request owes to an earlier move (``signals.owed_to``) count in the
    move's class (``charged_back_usd``: what this class's savings gained or lost by that)."""
    if by not in _GROUP_SQL:
        raise ValueError(f"cannot group by {by!r} (choose from {', '.join(_GROUP_SQL)})")
    order = "key" if by == "day" else "cost_usd DESC, requests DESC, key"
    sql = (
        f"SELECT {_GROUP_SQL[by]} AS key, {SUMS_SQL} FROM events WHERE ts >= ? GROUP BY key ORDER BY {order}"
    )
    with _reader(path) as conn:
        if conn is None or not _has_events(conn):
            return []
        rows = [dict(row) for row in conn.execute(sql, (since or 0.0,))]
        if by == "route_class":
            _charge_back(rows, owed_by_class(conn, since))
        return rows


# Savings of same-model requests owed to an earlier move of another class, per (own class, the
# move's class, mode).
_OWED_SQL = """
SELECT route_class AS own, json_extract(signals, '$.owed_to.route_class') AS move_class, mode,
    COALESCE(SUM(savings_usd), 0.0) AS usd
FROM events
WHERE ts >= ? AND instr(signals, 'owed_to') > 0 AND json_valid(signals)
    AND json_extract(signals, '$.owed_to.route_class') IS NOT NULL
GROUP BY own, move_class, mode
"""


def owed_by_class(
    conn: sqlite3.Connection, since: float | None, mode: str | None = None
) -> list[sqlite3.Row]:
    """Savings of same-model requests owed to an earlier move of another class: rows of (own
    class, the move's class, mode, usd)."""
    rows = conn.execute(_OWED_SQL, (since or 0.0,)).fetchall()
    return [r for r in rows if r["own"] != r["move_class"] and (mode is None or r["mode"] == mode)]


def _charge_back(rows: list[dict[str, Any]], owed: list[sqlite3.Row]) -> None:
    """Move each owed amount from its own class's savings to the move's class (in place)."""
    by_key = {row["key"]: row for row in rows}
    for row in rows:
        row["charged_back_usd"] = 0.0
    for item in owed:
        usd = float(item["usd"])
        column = "savings_realised_usd" if item["mode"] == "live" else "savings_projected_usd"
        for key, sign in ((item["own"], -1.0), (item["move_class"], 1.0)):
            if key not in by_key:  # the move's class has no request of its own in the period
                by_key[key] = {"key": key, **dict.fromkeys(_SUMS_KEYS, 0), "charged_back_usd": 0.0}
                rows.append(by_key[key])
            target = by_key[key]
            target["savings_usd"] += sign * usd
            target[column] += sign * usd
            target["charged_back_usd"] += sign * usd


_SUMS_KEYS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "would_cost_usd",
    "savings_usd",
    "savings_projected_usd",
    "savings_realised_usd",
    "errors",
    "savings_effort_usd",
)


def totals(path: Path, *, since: float | None = None) -> dict[str, Any]:
    """Sums over every event since ``since`` (zeros for an empty or missing database)."""
    with _reader(path) as conn:
        if conn is None or not _has_events(conn):
            return dict.fromkeys(_SUMS_KEYS, 0)
        row = conn.execute(f"SELECT {SUMS_SQL} FROM events WHERE ts >= ?", (since or 0.0,)).fetchone()
        return dict(row)


def shadow_stats(path: Path, *, since: float | None = None) -> list[dict[str, Any]]:
    """Per route class over shadow-mode events: count, would-route counts, projected savings,
    mean confidence."""
    with _reader(path) as conn:
        if conn is None or not _has_events(conn):
            return []
        classes = conn.execute(
            "SELECT route_class, COUNT(*) AS count, COALESCE(SUM(savings_usd), 0.0) AS projected_savings_usd,"
            " AVG(confidence) AS mean_confidence FROM events WHERE mode = 'shadow' AND ts >= ?"
            " GROUP BY route_class ORDER BY count DESC, route_class",
            (since or 0.0,),
        ).fetchall()
        routes = conn.execute(
            "SELECT route_class, would_provider || '/' || would_model AS target, COUNT(*) AS n FROM events"
            " WHERE mode = 'shadow' AND ts >= ? AND would_provider IS NOT NULL"
            " GROUP BY route_class, target ORDER BY n DESC, target",
            (since or 0.0,),
        ).fetchall()
        owed = owed_by_class(conn, since, "shadow")
    would: dict[str | None, dict[str, int]] = {}
    for row in routes:
        would.setdefault(row["route_class"], {})[row["target"]] = row["n"]
    charged: dict[str | None, float] = {}
    for item in owed:  # a later turn's re-write counts against the move that caused it
        charged[item["own"]] = charged.get(item["own"], 0.0) - float(item["usd"])
        charged[item["move_class"]] = charged.get(item["move_class"], 0.0) + float(item["usd"])
    return [
        {
            "route_class": row["route_class"],
            "count": row["count"],
            "would_route": would.get(row["route_class"], {}),
            "projected_savings_usd": row["projected_savings_usd"] + charged.get(row["route_class"], 0.0),
            "charged_back_usd": charged.get(row["route_class"], 0.0),
            "mean_confidence": row["mean_confidence"],
        }
        for row in classes
    ]


# The columns a restart needs to rebuild the prompt-cache book (``compose.restore``).
_CACHE_ROWS_SQL = """
SELECT id, ts, mode, route_class, selected_provider, selected_model, requested_provider, requested_model,
    would_provider, would_model, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    json_extract(signals, '$.cache_identity') AS identity,
    json_extract(signals, '$.cache_marks') AS marks
FROM (
    SELECT *, rowid AS rid FROM events
    WHERE ts >= ? AND selected_provider IS NOT NULL AND selected_model IS NOT NULL
        AND (http_status IS NULL OR http_status < 400 OR http_status = 499)
        AND (cache_status IS NULL OR cache_status != 'response_hit')
        AND instr(signals, 'cache_identity') > 0 AND json_valid(signals)
    ORDER BY ts DESC, rowid DESC LIMIT ?
)
ORDER BY ts, rid
"""


def cache_rows(path: Path, *, since: float, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` events since ``since`` that reached an upstream and carry a cache
    identity, oldest first (blocking: run it in a thread; empty for a missing database)."""
    with events_reader(path) as conn:
        if conn is None:
            return []
        return [dict(row) for row in conn.execute(_CACHE_ROWS_SQL, (since, limit))]


# Live-mode Responses requests: who answered at which point of a conversation (``compose.restore``).
_PRODUCER_ROWS_SQL = """
SELECT selected_provider, selected_model,
    json_extract(signals, '$.cache_identity') AS identity,
    json_extract(signals, '$.history_items') AS items
FROM (
    SELECT *, rowid AS rid FROM events
    WHERE ts >= ? AND mode = 'live' AND selected_provider IS NOT NULL AND selected_model IS NOT NULL
        AND (http_status IS NULL OR http_status < 400)
        AND instr(signals, 'history_items') > 0 AND json_valid(signals)
    ORDER BY ts DESC, rowid DESC LIMIT ?
)
ORDER BY ts, rid
"""


def producer_rows(path: Path, *, since: float, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` live-mode events since ``since`` that carry a Responses request's item
    count and a cache identity, oldest first (blocking; empty for a missing database)."""
    with events_reader(path) as conn:
        if conn is None:
            return []
        return [dict(row) for row in conn.execute(_PRODUCER_ROWS_SQL, (since, limit))]


# Requests that belong to a task (``compose.restore``): the task each identity is in.
_TASK_ROWS_SQL = """
SELECT ts, mode, session_id, task_id, decision_id, selected_provider, selected_model,
    requested_provider, requested_model, would_provider, would_model, input_tokens, output_tokens,
    cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
    json_extract(signals, '$.cache_identity') AS identity,
    json_extract(signals, '$.task.task') AS step,
    json_extract(signals, '$.task.clamped') AS clamped,
    json_extract(signals, '$.fresh_context') AS fresh,
    json_extract(signals, '$.retry') AS retry,
    json_extract(signals, '$.carries_tools') AS tools,
    json_extract(signals, '$.effort_lowered') AS effort
FROM (
    SELECT *, rowid AS rid FROM events
    WHERE ts >= ? AND task_id IS NOT NULL AND decision_id IS NOT NULL
        AND selected_provider IS NOT NULL AND (http_status IS NULL OR http_status < 400)
        AND instr(signals, 'cache_identity') > 0 AND json_valid(signals)
    ORDER BY ts DESC, rowid DESC LIMIT ?
)
ORDER BY ts, rid
"""


def task_rows(path: Path, *, since: float, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` events since ``since`` that belong to a task, oldest first
    (blocking; empty for a missing database)."""
    with events_reader(path) as conn:
        if conn is None:
            return []
        return [dict(row) for row in conn.execute(_TASK_ROWS_SQL, (since, limit))]
