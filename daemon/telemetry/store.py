"""The SQLite telemetry database: where it lives, opening it migrated, inserts and pruning.

Owns the path rule (``<data_dir>/telemetry.sqlite``, or the config's ``telemetry.db_path``, which
accepts the seed's ``.stackbilt/gateway/*.sqlite`` paths), batch inserts and retention pruning.
Connection settings (WAL, ``synchronous=NORMAL``, busy timeout) and the migration bookkeeping
are ``storage.sqlite``'s; the schema is ``migrations``'. Connections are opened by their user
thread: the writer thread owns the only write connection; readers open their own
(``queries``, ``dashboard``). Redaction is applied by the writer before rows get here.

Every value can be made storable (``safe_row``), so nothing an upstream sends has to fail a
row or break a reader: numbers are clamped to ``±NUMBER_LIMIT`` (not just SQLite's 64-bit
integers: ``SUM`` over a column raises "integer overflow" past them, so one 2**63 - 1 row would
break every total), NaN becomes NULL and infinities the limit (JSON has no ``Infinity``), text
with lone surrogates gets U+FFFD in their place (SQLite text is UTF-8), and values of any other
type are stored as text. Isolating a row that still fails is the writer's (``writer._write``).
"""

from __future__ import annotations

import math
import numbers
import sqlite3
from collections.abc import Iterable
from dataclasses import fields
from operator import itemgetter
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
# and grow memory). 16 x 43 parameters stay under the oldest SQLITE_MAX_VARIABLE_NUMBER (999).
CHUNK = 16
_INSERT_CHUNK = _INSERT + "".join(f", {_ROW}" for _ in range(CHUNK - 1))

# The largest magnitude a stored number keeps (~8.8e12): far above any real token count, cost
# or latency; a million rows of it still sum inside SQLite's 64-bit INTEGER (a larger Python
# int does not even bind: OverflowError), and JSON readers (JavaScript) hold it exactly.
NUMBER_LIMIT = 2**43
# Numeric columns, by the event's field annotations. Only the batch path's check (``_plain``)
# uses them: a value that is not a number there just sends the row through ``safe_value``.
_numeric_values = itemgetter(
    *(
        i
        for i, f in enumerate(fields(GatewayRequestEvent))
        if str(f.type).split(" |")[0] in ("int", "float", "bool")
    )
)


def _text(value: str) -> str:
    """``value`` as valid UTF-8 text: lone surrogates become U+FFFD (a valid pair is joined)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _clamp(value: int) -> int:
    return max(-NUMBER_LIMIT, min(NUMBER_LIMIT, value))


def _bounded(value: float) -> float | None:
    """``value`` within ``±NUMBER_LIMIT`` (infinities too); None for NaN."""
    if math.isnan(value):
        return None
    return max(-float(NUMBER_LIMIT), min(float(NUMBER_LIMIT), value))


def safe_value(value: object) -> object:
    """``value`` as SQLite stores it without raising and JSON reads it back (see the module doc)."""
    if isinstance(value, str):
        return value if value.isascii() else _text(value)
    if isinstance(value, int):  # bool and IntEnum included
        return value if -NUMBER_LIMIT <= value <= NUMBER_LIMIT else _clamp(value)
    if isinstance(value, float):
        return value if -NUMBER_LIMIT <= value <= NUMBER_LIMIT else _bounded(value)
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, numbers.Number):  # Decimal, Fraction, numpy scalars: as a bounded float
        try:
            return _bounded(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):  # complex, …: stored as text below
            pass
    try:
        return _text(str(value))
    except Exception:  # a __str__ that raises: keep the type's name at least
        return f"<{type(value).__name__}>"


def _plain(row: tuple[object, ...]) -> bool:
    """True when the row's numeric columns hold only numbers within ``NUMBER_LIMIT``: one
    C-level sum of their magnitudes (NaN when any is NaN; NULLs and zeros skipped)."""
    try:
        total = sum(map(abs, filter(None, _numeric_values(row))))
    except (TypeError, OverflowError):  # not a number; an int too large for a float
        return False
    return bool(total <= NUMBER_LIMIT)


def safe_row(row: tuple[object, ...], *, thorough: bool = False) -> tuple[object, ...]:
    """``row`` with every value storable (``safe_value``).

    The batch path (``thorough=False``) converts only rows with an out-of-range, NaN or
    non-numeric number, values SQLite may store without complaint but readers choke on; what
    else cannot be stored (lone surrogates, objects) makes the insert raise, and the writer
    retries that batch's rows one by one with ``thorough=True``, which converts every value.
    So a normal row costs one sum, not a check per value."""
    if not thorough and _plain(row):
        return row
    return tuple(safe_value(value) for value in row)


def db_path(data_dir: Path, override: Path | None = None) -> Path:
    """The telemetry database file (an override relative to nothing is taken as given)."""
    return override if override is not None else data_dir / DB_NAME


def open_db(path: Path) -> sqlite3.Connection:
    """A write connection with every telemetry migration applied."""
    return open_migrated(path, MIGRATIONS)


def insert_events(
    conn: sqlite3.Connection, events: Iterable[GatewayRequestEvent], *, thorough: bool = False
) -> int:
    """Insert ``events`` in one transaction (all or none); return how many. ``thorough``: convert
    every value (``safe_row``), for retrying rows one by one after a batch failed."""
    rows = [safe_row(to_row(e), thorough=thorough) for e in events]
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
