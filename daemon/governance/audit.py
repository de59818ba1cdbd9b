"""Governance reads over the telemetry events: spend to seed the budgets, per-client sums and
refusal counts for ``/metrics``, and the rows ``stackbilt-gw export`` writes.

Each call opens its own read connection (``telemetry.queries.events_reader``): call it from a
worker thread. A missing database, or one not yet migrated to ``client_id``, reads as empty.
Does not write.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..telemetry.events import from_row
from ..telemetry.queries import SUMS_SQL, events_reader
from ..telemetry.store import db_path


def _has_client_id(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "client_id" for row in conn.execute("PRAGMA table_info(events)"))


def spend_since(path: Path, since: float, day_since: float, hour_since: float) -> list[dict[str, Any]]:
    """USD per (client_id, repo) since ``since`` (the month), since ``day_since`` and in the last hour."""
    sql = (
        "SELECT COALESCE(client_id, 'local') AS client_id, repo, COALESCE(SUM(cost_usd), 0.0) AS month_usd,"
        " COALESCE(SUM(CASE WHEN ts >= ? THEN cost_usd ELSE 0.0 END), 0.0) AS day_usd,"
        " COALESCE(SUM(CASE WHEN ts >= ? THEN cost_usd ELSE 0.0 END), 0.0) AS hour_usd"
        " FROM events WHERE ts >= ? AND cost_usd > 0 GROUP BY client_id, repo"
    )
    with events_reader(path) as conn:
        if conn is None or not _has_client_id(conn):
            return []
        return [dict(row) for row in conn.execute(sql, (day_since, hour_since, since))]


def by_client_id(path: Path, *, since: float | None = None) -> list[dict[str, Any]]:
    """Sums per client id (``key``), biggest cost first, with each id's refusals."""
    sql = (
        f"SELECT COALESCE(client_id, 'local') AS key, {SUMS_SQL},"
        " COALESCE(SUM(CASE WHEN status = 'refused' THEN 1 ELSE 0 END), 0) AS refused"
        " FROM events WHERE ts >= ? GROUP BY key ORDER BY cost_usd DESC, requests DESC, key"
    )
    with events_reader(path) as conn:
        if conn is None or not _has_client_id(conn):
            return []
        return [dict(row) for row in conn.execute(sql, (since or 0.0,))]


def refusals(path: Path, *, since: float | None = None) -> dict[str, Any]:
    """Refused requests: the total and per rule (``error_class`` holds the rule)."""
    with events_reader(path) as conn:
        if conn is None:
            return {"total": 0, "by_rule": {}}
        rows = conn.execute(
            "SELECT error_class AS rule, COUNT(*) AS n FROM events WHERE status = 'refused' AND ts >= ?"
            " GROUP BY error_class ORDER BY n DESC",
            (since or 0.0,),
        ).fetchall()
    by_rule = {str(row["rule"]): int(row["n"]) for row in rows}
    return {"total": sum(by_rule.values()), "by_rule": by_rule}


EXPORT_COLUMNS = (
    "id",
    "ts",
    "client_id",
    "client",
    "protocol",
    "repo",
    "branch",
    "status",
    "http_status",
    "error_class",
    "error_message",
    "requested_provider",
    "requested_model",
    "selected_provider",
    "selected_model",
    "route_class",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "latency_ms",
)


def export_rows(path: Path, *, since: float) -> Iterator[dict[str, Any]]:
    """Events since ``since``, oldest first, as stored (redacted on write), governance columns."""
    with events_reader(path) as conn:
        if conn is None:
            return
        has_client = _has_client_id(conn)
        for row in conn.execute("SELECT * FROM events WHERE ts >= ? ORDER BY ts, id", (since,)):
            event = from_row(dict(row))
            if not has_client:
                event["client_id"] = None
            yield {name: event.get(name) for name in EXPORT_COLUMNS}


def write_export(rows: Iterator[dict[str, Any]], fmt: str, out: io.TextIOBase | Any) -> int:
    """Write ``rows`` as JSON lines or CSV (header first); the number of events written."""
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            n += 1
        return n
    for row in rows:
        out.write(json.dumps(row, separators=(",", ":")) + "\n")
        n += 1
    return n


def database(data_dir: Path, configured: Path | None) -> Path:
    """The telemetry database the daemon writes (``telemetry.db_path`` or the data dir's)."""
    return db_path(data_dir, configured)
