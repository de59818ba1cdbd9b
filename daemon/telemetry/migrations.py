"""Schema migrations: ordered, named functions and a ``_migrations`` bookkeeping table.

Each migration runs once, in order, inside its own transaction, and is recorded by name. Never
edit a shipped migration; add a new one. ``tests/telemetry/test_store.py`` pins the final
schema. No I/O beyond the connection it is given.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


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


MIGRATIONS: tuple[Migration, ...] = (m001_events, m002_event_indexes, m003_cost_estimated)


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in order; return the names applied now."""
    done = set(applied(conn))
    conn.commit()
    ran: list[str] = []
    for migration in migrations:
        name = migration.__name__
        if name in done:
            continue
        with conn:  # one transaction per migration: all of it or none of it
            migration(conn)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
        ran.append(name)
    return ran
