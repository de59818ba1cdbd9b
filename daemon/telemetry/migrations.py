"""The telemetry schema: its ordered, named migrations (``MIGRATIONS``).

``storage.sqlite`` applies them and keeps the ``_migrations`` bookkeeping table; each runs once,
in order, in its own transaction, recorded by its function name. Never edit or rename a shipped
migration (existing databases know them by name); add a new one. ``tests/telemetry/test_store.py``
pins the final schema. No I/O beyond the connection it is given.
"""

from __future__ import annotations

import sqlite3

from ..storage.sqlite import Migration


def m001_events(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            ts REAL NOT NULL,
            client TEXT NOT NULL,
            protocol TEXT NOT NULL,
            session_id TEXT,
            repo TEXT,
            branch TEXT,
            route_class TEXT,
            confidence REAL,
            signals TEXT NOT NULL DEFAULT '{}',
            mode TEXT NOT NULL,
            requested_provider TEXT,
            requested_model TEXT,
            selected_provider TEXT,
            selected_model TEXT,
            would_provider TEXT,
            would_model TEXT,
            fallback_chain TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL,
            http_status INTEGER,
            error_class TEXT,
            error_message TEXT,
            stream INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            usage_estimated INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            would_cost_usd REAL,
            savings_usd REAL,
            latency_ms REAL,
            ttfb_ms REAL,
            cache_status TEXT,
            prompt TEXT
        )
        """
    )


def m002_event_indexes(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE INDEX events_ts ON events (ts)")
    conn.execute("CREATE INDEX events_session ON events (session_id, ts)")
    conn.execute("CREATE INDEX events_class_ts ON events (route_class, ts)")


def m003_cost_estimated(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE events ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0")


def m004_cache_write_1h(conn: sqlite3.Connection) -> None:
    """The 1-hour part of the cache writes (older rows: 0, all their writes counted as 5-minute)."""
    conn.execute("ALTER TABLE events ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0")


def m005_tasks(conn: sqlite3.Connection) -> None:
    """Routing per task: the task, the decision that chose its model, the holdout flag."""
    conn.execute("ALTER TABLE events ADD COLUMN task_id TEXT")
    conn.execute("ALTER TABLE events ADD COLUMN decision_id TEXT")
    conn.execute("ALTER TABLE events ADD COLUMN holdout INTEGER NOT NULL DEFAULT 0")
    conn.execute("CREATE INDEX events_task ON events (task_id)")


def m006_client_id(conn: sqlite3.Connection) -> None:
    """The client id each request is attributed to (governance); older rows: NULL (``local``)."""
    conn.execute("ALTER TABLE events ADD COLUMN client_id TEXT")
    conn.execute("CREATE INDEX events_client_id ON events (client_id, ts)")


def m007_stop_reason(conn: sqlite3.Connection) -> None:
    """Why the model stopped (the upstream's finish reason); older rows: NULL."""
    conn.execute("ALTER TABLE events ADD COLUMN stop_reason TEXT")


MIGRATIONS: tuple[Migration, ...] = (
    m001_events,
    m002_event_indexes,
    m003_cost_estimated,
    m004_cache_write_1h,
    m005_tasks,
    m006_client_id,
    m007_stop_reason,
)
