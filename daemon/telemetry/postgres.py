"""The shared team ledger: ships this daemon's events to PostgreSQL (``telemetry.postgres_url``).

``PostgresLedger`` is a thread beside the telemetry writer. The writer stores events in SQLite as
always; the ledger's outbox (``postgres_outbox``: a trigger queues each stored event's id in the
writer's own transaction) says which are not in PostgreSQL yet, and this thread ships them from
there in batches — each an upsert by ``id`` with the daemon's ``machine`` and ``user`` — then
takes them off the outbox. So nothing waits on PostgreSQL but this thread: a request never does,
the SQLite writer never does, an unreachable database or wrong credentials only leave events
queued (locally, across restarts) until it answers again. Reconnects back off from
``retry_min`` to ``retry_max`` seconds; ``problem`` says why nothing is shipping (``/health``,
``doctor``); ``shipped``, ``pending`` and ``failed`` count. A row PostgreSQL refuses on its own
(a value it cannot store) is logged, counted in ``failed`` and taken off the queue, so one bad
row never holds the others back. The schema is ``postgres_schema``'s, applied on every connect.
The password is masked in everything this module logs or reports.

Imports psycopg (the ``team`` extra), so ``compose.root`` imports this module only when the URL
is set. Does not read aggregates (``postgres_queries``).
"""

from __future__ import annotations

import getpass
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg

from ..core.config import mask_url_password
from ..storage.redact import redact, remember_secret
from . import postgres_outbox as outbox
from . import postgres_schema as schema
from .events import COLUMNS
from .store import open_db, safe_value

log = logging.getLogger(__name__)

BATCH = 500
RETRY_MIN = 1.0
RETRY_MAX = 15.0
# With nothing queued, the thread still wakes this often (the outbox may have been filled by a
# previous run, or a write's nudge may have been missed).
IDLE = 30.0
# The longest one round ships before it looks at ``close`` again.
ROUND_SECONDS = 5.0
CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 30_000
LOG_FAILURES = 5

_JSON_COLUMNS = frozenset(name for name, kind in schema.column_types().items() if kind == "JSONB")
_TEXT_COLUMNS = frozenset(name for name, kind in schema.column_types().items() if kind == "TEXT")


def connect(url: str, *, timeout: int = CONNECT_TIMEOUT) -> psycopg.Connection[Any]:
    """A connection to the ledger, with short timeouts (no statement runs for long)."""
    conn = psycopg.connect(
        url,
        connect_timeout=timeout,
        application_name="stackbilt-gateway",
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        autocommit=True,
    )
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return conn


def remember_password(url: str) -> None:
    """Have log redaction mask the URL's password wherever it appears."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        remember_secret(unquote(password))
        remember_secret(password)


def describe(exc: BaseException) -> str:
    """An error as one line, secrets masked (libpq messages can span lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")[:400]


def _clean_text(value: object) -> object:
    """PostgreSQL text holds no NUL character (SQLite's does)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _clean_json(value: object) -> object:
    """JSON text PostgreSQL's ``jsonb`` accepts (no ``\\u0000``), or NULL when it is not JSON."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\\u0000", "\\ufffd").replace("\x00", "\ufffd")
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text)
    return text


def ledger_row(row: Sequence[object], machine: str, user: str) -> tuple[object, ...]:
    """A stored event row (``COLUMNS`` order) as the ledger's row: identity first, values cleaned."""
    out: list[object] = [machine, user]
    for name, value in zip(COLUMNS, row, strict=True):
        if name in _JSON_COLUMNS:
            out.append(_clean_json(value))
        elif name in _TEXT_COLUMNS:
            out.append(_clean_text(value if value is None or isinstance(value, str) else str(value)))
        else:
            out.append(safe_value(value))
    return tuple(out)


_NAMES = (*schema.IDENTITY, *COLUMNS)
_VALUES = ", ".join("%s::jsonb" if name in _JSON_COLUMNS else "%s" for name in _NAMES)
UPSERT = (
    f"INSERT INTO {schema.TABLE} ({', '.join(schema.quote(n) for n in _NAMES)}) VALUES ({_VALUES}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{schema.quote(n)} = EXCLUDED.{schema.quote(n)}" for n in _NAMES if n != "id")
)


class PostgresLedger:
    def __init__(
        self,
        url: str,
        sqlite_path: Path,
        *,
        machine: str,
        user: str,
        batch_size: int = BATCH,
        retry_min: float = RETRY_MIN,
        retry_max: float = RETRY_MAX,
        idle: float = IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.shown = mask_url_password(url)
        self.sqlite_path = sqlite_path
        self.machine = machine
        self.user = user
        self.batch_size = batch_size
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.idle = idle
        self._clock = clock
        remember_password(url)
        self.shipped = 0
        self.failed = 0
        # Events in the outbox (refreshed every round); None until the first round.
        self.pending: int | None = None
        self.queued_at_start = 0
        self.connected = False
        # Why nothing ships (connect or write error), masked; None while shipping works.
        self.error: str | None = None
        self.last_shipped_at: float | None = None
        self._pg: psycopg.Connection[Any] | None = None
        self._delay = retry_min
        self._next_attempt = 0.0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._setup_error: str | None = None

    # -- the writer's side ---------------------------------------------------------------------

    def prepare(self, conn: sqlite3.Connection) -> None:
        """Install the outbox in the writer's database (before serving); a failure is reported
        by ``problem`` and retried by the thread."""
        try:
            self.queued_at_start = outbox.install(conn, self.shown)
            self._setup_error = None
        except sqlite3.Error as exc:
            self._setup_error = f"outbox: {describe(exc)}"
            log.warning("team ledger: cannot set up the outbox in %s: %s", self.sqlite_path, exc)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="team-ledger", daemon=True)
            self._thread.start()

    def nudge(self) -> None:
        """Events were stored: ship soon (O(1), never blocks)."""
        if not self._wake.is_set():
            self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """One last round (bounded by ``timeout``), then stop; what is left stays queued."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("team ledger: still shipping after %.0fs; the rest ships at next start", timeout)

    def problem(self) -> str | None:
        """Why events are not reaching the team ledger, or None when they are (or will at once)."""
        if self._setup_error:
            return f"team ledger {self.shown}: {self._setup_error}"
        if self.error is None:
            return None
        waiting = f"; {self.pending} events kept locally, sent when it answers" if self.pending else ""
        return f"team ledger {self.shown} unreachable: {self.error}{waiting}"

    def status(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "url": self.shown,
            "machine": self.machine,
            "user": self.user,
            "connected": self.connected,
            "shipped": self.shipped,
            "pending": self.pending,
            "failed": self.failed,
            "problem": self.problem(),
        }

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            local = open_db(self.sqlite_path)
        except (sqlite3.Error, OSError) as exc:
            self._setup_error = f"cannot open {self.sqlite_path}: {describe(exc)}"
            log.error("team ledger disabled: %s", self._setup_error)
            return
        try:
            if self._setup_error:
                self.prepare(local)
            while True:
                stop = self._stopping
                try:
                    more = self._round(local, deadline=self._clock() + ROUND_SECONDS)
                except Exception as exc:  # a bug, not the database: keep the thread alive
                    log.exception("team ledger: unexpected error; carrying on")
                    self.error = describe(exc)
                    more = False
                    self._disconnect()
                if stop:
                    return
                if more:
                    wait = 0.0
                elif self._pg is None:
                    wait = max(0.05, self._next_attempt - self._clock())
                else:
                    wait = self.idle
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            self._disconnect()
            local.close()

    def _connect(self) -> bool:
        now = self._clock()
        if now < self._next_attempt and not self._stopping:
            return False
        try:
            pg = connect(self.url)
            try:
                applied = schema.apply(pg)
            except BaseException:
                pg.close()
                raise
        except psycopg.Error as exc:
            was = self.error
            self.error = describe(exc)
            self._next_attempt = self._clock() + self._delay
            if was != self.error:
                log.warning("team ledger %s unreachable (%s); events kept locally", self.shown, self.error)
            self._delay = min(self._delay * 2, self.retry_max)
            return False
        if applied:
            log.info("team ledger %s: applied %s", self.shown, ", ".join(applied))
        if self.error is not None:
            log.info("team ledger %s reachable again", self.shown)
        self._pg, self.connected, self.error, self._delay = pg, True, None, self.retry_min
        return True

    def _disconnect(self) -> None:
        if self._pg is not None:
            try:
                self._pg.close()
            except psycopg.Error:
                pass
        self._pg, self.connected = None, False

    def _lost_connection(self, exc: BaseException) -> None:
        self.error = describe(exc)
        log.warning("team ledger %s: %s; events kept locally, retrying", self.shown, self.error)
        self._disconnect()
        self._next_attempt = self._clock() + self._delay
        self._delay = min(self._delay * 2, self.retry_max)

    def _round(self, local: sqlite3.Connection, *, deadline: float) -> bool:
        """Ship queued events until the outbox is empty or the round's time is up; True when
        more are queued and the database answers (go again at once)."""
        try:
            self.pending = outbox.pending(local)
            # Connect (and migrate) even with nothing queued: bad credentials show at start-up.
            if self._pg is None and not self._connect():
                return False
            if not self.pending:
                return False
            while self._clock() < deadline:
                rows, seqs, gone = outbox.take(local, self.batch_size)
                outbox.done(local, gone)
                if not rows:
                    break
                if not self._ship(rows):
                    break
                outbox.done(local, seqs)
            self.pending = outbox.pending(local)
        except sqlite3.Error as exc:
            log.warning("team ledger: local outbox: %s", exc)
            return False
        return bool(self.pending) and self._pg is not None

    def _ship(self, rows: list[tuple[object, ...]]) -> bool:
        """Upsert ``rows``; False when the database is gone (they stay queued)."""
        assert self._pg is not None
        values = [ledger_row(r, self.machine, self.user) for r in rows]
        try:
            with self._pg.transaction(), self._pg.cursor() as cur:
                cur.executemany(UPSERT, values)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            log.info("team ledger: a batch of %d was refused (%s); shipping it row by row", len(rows), exc)
            return self._ship_one_by_one(values)
        except psycopg.Error as exc:
            self._lost_connection(exc)
            return False
        self._shipped(len(values))
        return True

    def _ship_one_by_one(self, values: list[tuple[object, ...]]) -> bool:
        assert self._pg is not None
        failures = 0
        for value in values:
            try:
                with self._pg.transaction(), self._pg.cursor() as cur:
                    cur.execute(UPSERT, value)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                failures += 1
                if failures <= LOG_FAILURES:
                    log.warning("team ledger: event %r refused: %s", value[2], describe(exc))
                continue
            except psycopg.Error as exc:
                self._lost_connection(exc)
                return False
            self._shipped(1)
        self.failed += failures
        return True

    def _shipped(self, count: int) -> None:
        self.shipped += count
        self.last_shipped_at = time.time()


def identity(env: Mapping[str, str]) -> tuple[str, str]:
    """(machine, user) for the ledger's rows: the host name and the login name (``LOGNAME`` /
    ``USER`` / ``USERNAME`` from the daemon's environment, else the account's name)."""
    user = next((env[v] for v in ("LOGNAME", "USER", "USERNAME") if env.get(v, "").strip()), "")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
    return socket.gethostname() or "unknown", user.strip()
