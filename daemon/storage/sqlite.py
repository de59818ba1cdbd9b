"""Opening a SQLite database the gateway's way, and applying a store's ordered named migrations.

Owns the connection settings (busy timeout; for writers also WAL, ``synchronous=NORMAL``,
in-memory temp store, and the parent folder created with the process's default permissions —
the data folder itself is made private by ``control.paths``) and the ``_migrations``
bookkeeping table: each migration is a function, runs once, in order, in its own transaction,
and is recorded by its ``__name__``. Does not own any schema, file name or query: telemetry and
the response cache bring their own. Connections belong to the thread that opened them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Migration = Callable[[sqlite3.Connection], None]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path`` with the gateway's settings (creates the parent folder for writers)."""
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=5.0, check_same_thread=True)
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Statement journals in memory: no temp file created and removed per batch.
        conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations already applied, oldest first (creates the bookkeeping table)."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the pending ``migrations`` in order; return the names applied now."""
    done = set(applied(conn))
    conn.commit()
    ran: list[str] = []
    for migration in migrations:
        name = migration.__name__
        if name in done:
            continue
        # One transaction per migration: all of it or none of it. An explicit BEGIN, because
        # the sqlite3 module opens none before DDL (CREATE, ALTER would commit one by one).
        conn.execute("BEGIN")
        with conn:
            migration(conn)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
        ran.append(name)
    return ran


def open_migrated(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """A write connection to ``path`` with every one of ``migrations`` applied."""
    conn = connect(path)
    try:
        migrate(conn, migrations)
    except BaseException:
        conn.close()
        raise
    return conn
