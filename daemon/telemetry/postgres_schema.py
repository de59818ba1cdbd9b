"""The team ledger's PostgreSQL schema: its named migrations and the event columns, both applied
on start by every daemon that ships there (``apply``).

Owns the table (``gateway_events``: the SQLite ``events`` columns plus ``machine`` and
``"user"``), its bookkeeping table (``gateway_migrations``: each named migration runs once, in
order, recorded by its function name) and the column step that follows the event: every name in
``events.COLUMNS`` missing from the table is added (``ADD COLUMN IF NOT EXISTS``) with a type
derived from the event field's annotation, so a column added to the event later reaches the
team ledger without a hand-written migration here. Everything runs in one transaction under an
advisory lock, so daemons starting together do not race. Never edit or rename a shipped
migration; add one.

Does not connect (``postgres``), ship rows or read aggregates (``postgres_queries``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .events import COLUMNS, GatewayRequestEvent

TABLE = "gateway_events"
MIGRATIONS_TABLE = "gateway_migrations"
# The columns the ledger adds to every row (who and where an event came from).
IDENTITY = ("machine", "user")
# pg_advisory_xact_lock key: "stackbilt-ledger" as a number, held while migrating.
LOCK_KEY = 0x5354_4B42_4C45_4447


def quote(name: str) -> str:
    """A column name as a PostgreSQL identifier (``user`` is a reserved word)."""
    return '"' + name.replace('"', '""') + '"'


def _pg_type(annotation: str) -> str:
    """The PostgreSQL type for an event field annotation (its first alternative)."""
    head = annotation.split(" |")[0].split("[")[0].strip()
    if head == "int":
        return "BIGINT"
    if head == "float":
        return "DOUBLE PRECISION"
    if head == "bool":  # stored as 0/1, as in SQLite (events.to_row)
        return "INTEGER"
    if head in ("dict", "list"):
        return "JSONB"
    return "TEXT"


_TYPES: dict[str, str] = {f.name: _pg_type(str(f.type)) for f in fields(GatewayRequestEvent)}


def column_types() -> dict[str, str]:
    """Every event column (``events.COLUMNS`` order) with its PostgreSQL type."""
    return {name: _TYPES.get(name, "TEXT") for name in COLUMNS}


Cursor = Any  # a psycopg cursor (typed loosely: psycopg is an optional dependency)
PgMigration = Callable[[Cursor], None]


def m001_events(cur: Cursor) -> None:
    cur.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            id TEXT PRIMARY KEY,
            machine TEXT NOT NULL DEFAULT '',
            "user" TEXT NOT NULL DEFAULT '',
            ts DOUBLE PRECISION NOT NULL
        )
        """
    )


def m002_indexes(cur: Cursor) -> None:
    cur.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_ts ON {TABLE} (ts)")
    cur.execute(f'CREATE INDEX IF NOT EXISTS {TABLE}_user_ts ON {TABLE} ("user", ts)')


MIGRATIONS: tuple[PgMigration, ...] = (m001_events, m002_indexes)


def ensure_columns(cur: Cursor) -> list[str]:
    """Add every event column the table lacks; return the names added."""
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s",
        (TABLE,),
    )
    present = {row[0] for row in cur.fetchall()}
    added = [name for name in COLUMNS if name not in present]
    types = column_types()
    for name in added:
        cur.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {quote(name)} {types[name]}")
    return added


def apply(conn: Any) -> list[str]:
    """Bring the ledger's schema up to date in one transaction; return what was applied
    (migration names, then ``column:<name>`` for each column added)."""
    done: list[str] = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
            "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cur.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")
        applied = {row[0] for row in cur.fetchall()}
        for migration in MIGRATIONS:
            if migration.__name__ not in applied:
                migration(cur)
                cur.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)", (migration.__name__,))
                done.append(migration.__name__)
        done += [f"column:{name}" for name in ensure_columns(cur)]
    return done
