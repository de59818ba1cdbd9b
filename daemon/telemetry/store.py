"""The SQLite telemetry database: where it lives, opening it migrated, inserts and pruning.

Owns the path rule (``<data_dir>/telemetry.sqlite``, or the config's ``telemetry.db_path``, which
accepts the seed's ``.stackbilt/gateway/*.sqlite`` paths), batch inserts and retention pruning.
Connection settings (WAL, ``synchronous=NORMAL``, busy timeout) and the migration bookkeeping
are ``storage.sqlite``'s; the schema is ``migrations``'. Connections are opened by their user
thread: the writer thread owns the only write connection; readers open their own
(``queries``, ``dashboard``). Redaction is applied by the writer before rows get here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ..storage.sqlite import open_migrated
from .events import COLUMNS, GatewayRequestEvent, to_row
from .migrations import MIGRATIONS

DB_NAME = "telemetry.sqlite"
DAY = 86_400.0
_ROW = f"({', '.join('?' * len(COLUMNS))})"
_INSERT = f"INSERT OR REPLACE INTO events ({', '.join(COLUMNS)}) VALUES {_ROW}"
# Rows per multi-row INSERT. SQLite releases the GIL once per statement step: one statement
# per row made the writer thread and the event loop trade the GIL once per event, ~0.5 context
# switches per request under load. Full chunks go in K-row statements and the rest row by
# row, so only two statements are ever prepared (one per distinct row count would be cached
# and grow memory). 16 x 37 parameters stay under the oldest SQLITE_MAX_VARIABLE_NUMBER (999).
CHUNK = 16
_INSERT_CHUNK = _INSERT + "".join(f", {_ROW}" for _ in range(CHUNK - 1))


def db_path(data_dir: Path, override: Path | None = None) -> Path:
    """The telemetry database file (an override relative to nothing is taken as given)."""
    return override if override is not None else data_dir / DB_NAME


def open_db(path: Path) -> sqlite3.Connection:
    """A write connection with every telemetry migration applied."""
    return open_migrated(path, MIGRATIONS)


def insert_events(conn: sqlite3.Connection, events: Iterable[GatewayRequestEvent]) -> int:
    rows = [to_row(e) for e in events]
    if rows:
        full = len(rows) - len(rows) % CHUNK
        with conn:
            for start in range(0, full, CHUNK):
                conn.execute(_INSERT_CHUNK, [value for row in rows[start : start + CHUNK] for value in row])
            if full < len(rows):
                conn.executemany(_INSERT, rows[full:])
    return len(rows)


def prune(conn: sqlite3.Connection, *, retention_days: int, now: float) -> int:
    """Delete events older than ``retention_days``; return how many went."""
    with conn:
        cur = conn.execute("DELETE FROM events WHERE ts < ?", (now - retention_days * DAY,))
    return cur.rowcount
