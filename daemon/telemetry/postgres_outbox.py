"""The team ledger's outbox in the local telemetry database: which events are still to be shipped.

Owns three objects beside ``events`` in the same SQLite file, present only while the ledger is
on: ``pg_outbox`` (the ids of events not yet in PostgreSQL, in queue order ``seq``); the trigger
``pg_outbox_add``, which queues every inserted (or replaced) event's id in the writer's own
transaction — so an event stored locally is an event queued for the ledger, across crashes and
restarts, with no extra statement on the writer's path (a replaced event is queued again under
a new, never reused ``seq``, so shipping its old version does not take the new one off the
queue); and ``pg_outbox_target`` (which ledger the outbox feeds: its URL, password masked).
When the ledger is switched on, or pointed at another database, every local event is queued
once (the ledger upserts by id, so shipping an event twice is harmless); when it is switched
off, the three objects are dropped.

Does not talk to PostgreSQL (``postgres``). Connections are the caller's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .events import COLUMNS

_SELECT = ", ".join(f"e.{name}" for name in COLUMNS)


def _exists(conn: sqlite3.Connection, kind: str, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)).fetchone()
    return row is not None


def install(conn: sqlite3.Connection, target: str) -> int:
    """Make sure the outbox feeds ``target``; return how many events were queued now (all local
    events when the outbox is new or fed another ledger, else 0)."""
    conn.execute("BEGIN IMMEDIATE")
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS pg_outbox "
            "(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE)"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS pg_outbox_target (target TEXT NOT NULL)")
        conn.execute(
            "CREATE TRIGGER IF NOT EXISTS pg_outbox_add AFTER INSERT ON events "
            "BEGIN INSERT OR REPLACE INTO pg_outbox (id) VALUES (NEW.id); END"
        )
        row = conn.execute("SELECT target FROM pg_outbox_target").fetchone()
        if row is not None and row[0] == target:
            return 0
        conn.execute("DELETE FROM pg_outbox_target")
        conn.execute("INSERT INTO pg_outbox_target (target) VALUES (?)", (target,))
        cur = conn.execute("INSERT OR IGNORE INTO pg_outbox (id) SELECT id FROM events ORDER BY ts")
        return max(cur.rowcount, 0)


def uninstall(conn: sqlite3.Connection) -> bool:
    """Drop the outbox (the ledger is off); True when there was one. Reads only when there is none."""
    if not _exists(conn, "trigger", "pg_outbox_add") and not _exists(conn, "table", "pg_outbox"):
        return False
    conn.execute("BEGIN IMMEDIATE")
    with conn:
        conn.execute("DROP TRIGGER IF EXISTS pg_outbox_add")
        conn.execute("DROP TABLE IF EXISTS pg_outbox")
        conn.execute("DROP TABLE IF EXISTS pg_outbox_target")
    return True


def take(conn: sqlite3.Connection, limit: int) -> tuple[list[tuple[object, ...]], list[int], list[int]]:
    """Up to ``limit`` queued events, oldest queued first: their rows in ``COLUMNS`` order, their
    queue ``seq`` numbers (for ``done``) and the ``seq`` of queued events no longer stored
    (pruned before they could be shipped)."""
    rows: list[tuple[object, ...]] = []
    seqs: list[int] = []
    gone: list[int] = []
    query = f"SELECT o.seq, e.id IS NOT NULL, {_SELECT} FROM pg_outbox o LEFT JOIN events e ON e.id = o.id "
    for row in conn.execute(query + "ORDER BY o.seq LIMIT ?", (limit,)):
        if row[1]:
            rows.append(tuple(row[2:]))
            seqs.append(int(row[0]))
        else:
            gone.append(int(row[0]))
    conn.commit()  # end the read transaction: the writer may checkpoint
    return rows, seqs, gone


def done(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
    """Take the queue entries ``seqs`` off the outbox (shipped, or never to be shipped)."""
    if seqs:
        with conn:
            conn.executemany("DELETE FROM pg_outbox WHERE seq = ?", [(s,) for s in seqs])


def pending(conn: sqlite3.Connection) -> int:
    """Events still to be shipped."""
    row = conn.execute("SELECT count(*) FROM pg_outbox").fetchone()
    conn.commit()
    return int(row[0])
