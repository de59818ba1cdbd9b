"""The one telemetry writer: a thread fed by a bounded buffer, so request handlers never wait.

``emit`` is O(1), thread-safe and never blocks (callable from the event loop): it appends to a
deque and wakes the thread only for the first event of a batch, so a busy gateway pays no
thread hand-off per request. When the buffer is full the NEW event is dropped and counted
(``dropped``). The thread gathers events for ``linger`` seconds and writes them in batches, one
transaction each, so a crash loses at most the events still buffered; ``flush`` and ``close``
skip the wait, and ``close`` drains the buffer first. Before anything reaches disk, error
messages and prompts are redacted, and prompts are dropped entirely unless ``store_prompts``.
Retention pruning runs on start and once a day.

Nothing one event contains stops the writer: values SQLite cannot store are converted
(``store.safe_row``); when a batch still fails, its rows are retried one by one and only the
rows that fail alone are lost (``failed``); an unexpected error in a round is logged and the
thread carries on. ``problem`` says why the writer is not writing (its thread is gone, or the
buffer has not drained for ``stall_after`` seconds) for ``/health``; ``close`` logs every loss.

With the team ledger on (``ledger``: ``postgres.PostgresLedger``), every event this writer stores
is also queued for PostgreSQL by the outbox trigger in the same transaction; the writer only
nudges the ledger's own thread after a batch (no PostgreSQL I/O here, so the SQLite path keeps
its speed) and reports the ledger's trouble through ``problem``. With it off, ``prepare`` drops
an outbox left by an earlier run.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..storage.redact import redact
from . import postgres_outbox
from .events import GatewayRequestEvent
from .store import DAY, insert_events, open_db, prune

if TYPE_CHECKING:
    from .postgres import PostgresLedger

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH = 500
# The longest the idle thread sleeps before it checks whether pruning is due.
IDLE_WAKE = 60.0
# Events waiting this long without the buffer draining make the writer "stuck" (``problem``).
# Longer than an idle sleep plus a linger, so a healthy writer never looks stuck.
STALL_AFTER = 2 * IDLE_WAKE
# Failed rows logged one by one per batch; the rest of a batch's failures are logged as a count.
LOG_FAILURES = 5


def _redacted(text: object) -> str | None:
    """``text`` redacted (anything not text, as text); None for nothing."""
    if text is None or text == "":
        return None
    return redact(text if isinstance(text, str) else str(text))


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class EventWriter:
    def __init__(
        self,
        path: Path,
        *,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH,
        retention_days: int = 90,
        store_prompts: bool = False,
        prune_every: float = DAY,
        clock: Callable[[], float] = time.time,
        linger: float = 0.1,
        stall_after: float = STALL_AFTER,
        ledger: PostgresLedger | None = None,
    ) -> None:
        self.path = path
        # The team ledger fed from this writer's database (None: off).
        self.ledger = ledger
        self.maxsize = maxsize
        self.batch_size = batch_size
        # Seconds the writer waits after the first event of a batch for more to arrive.
        self.linger = linger
        self.retention_days = retention_days
        self.store_prompts = store_prompts
        self.prune_every = prune_every
        self.stall_after = stall_after
        self._clock = clock
        self._buffer: deque[GatewayRequestEvent] = deque()
        # Set when there is work (the first event of a batch, a flush, close).
        self._wake = threading.Event()
        # Set by flush/close: write now, do not linger.
        self._urgent = threading.Event()
        self._markers: list[_Flush] = []
        self._stopping = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0
        self.written = 0
        # Events that could not be written (each one failed alone); only the thread counts them.
        self.failed = 0
        self.pruned = 0
        # Why the thread stopped (the database would not open) or its last unexpected error.
        self.error: BaseException | None = None
        # time.monotonic() when the thread last emptied the buffer (``problem``).
        self._drained_at = time.monotonic()

    # -- producer side -------------------------------------------------------------------------

    def emit(self, event: GatewayRequestEvent) -> None:
        """Buffer ``event`` for writing; drop (and count) it when the buffer is full.

        After ``close`` (shutdown: a stream cut by the graceful timeout finishes after the writer
        stopped), the event is written at once in the caller's thread instead of being lost."""
        if self._closed:
            self._write_late(event)
            return
        if len(self._buffer) >= self.maxsize:
            self._count_drop()
            return
        self._buffer.append(event)
        if not self._wake.is_set():  # the first event of a batch wakes the thread
            self._wake.set()

    def _count_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def prepare(self) -> None:
        """Open and migrate the database once, before serving, so read APIs never see a schema
        the writer thread has not finished migrating; a failure is left for the thread to report."""
        try:
            conn = open_db(self.path)
        except (sqlite3.Error, OSError):
            return
        try:
            if self.ledger is not None:
                self.ledger.prepare(conn)
            else:
                postgres_outbox.uninstall(conn)
        except sqlite3.Error as exc:
            log.warning("telemetry: team ledger outbox: %s", exc)
        finally:
            conn.close()

    def start(self) -> None:
        if self._thread is None:
            self._drained_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
            self._thread.start()
        if self.ledger is not None:
            self.ledger.start()

    def problem(self) -> str | None:
        """Why events are not being written, or None when the writer is working (``/health``)."""
        if self._thread is None:
            return "telemetry writer not started"
        if not self._thread.is_alive():
            if self._closed:
                return "telemetry writer closed"
            reason = f": {type(self.error).__name__}: {self.error}" if self.error is not None else ""
            return f"telemetry writer stopped{reason}; {self.pending} events waiting"
        waited = time.monotonic() - self._drained_at
        if self.pending and waited > self.stall_after:
            return f"telemetry writer stuck: {self.pending} events waiting, not drained for {waited:.0f}s"
        return self.ledger.problem() if self.ledger is not None else None

    def _hurry(self) -> None:
        self._urgent.set()
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything emitted so far is written (for tests and shutdown paths)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        marker = _Flush()
        with self._lock:
            self._markers.append(marker)
        self._hurry()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write everything buffered, then stop the thread. Later ``emit`` calls are dropped."""
        if self._closed:
            return
        self._closed = True
        self.start()
        assert self._thread is not None
        self._stopping = True
        self._hurry()
        self._thread.join(timeout)
        left = self.pending  # still buffered: the thread did not drain in time, or was gone
        if self._thread.is_alive():
            log.warning("telemetry writer did not drain in %.0fs; %d events lost", timeout, left)
        if self.ledger is not None:  # stored events not shipped yet stay queued for the next start
            self.ledger.close(timeout)
        if self.dropped or self.failed or left:
            log.warning(
                "telemetry: %d events written; lost: %d dropped (buffer full or closed), "
                "%d failed to write, %d left in the buffer",
                self.written,
                self.dropped,
                self.failed,
                left,
            )

    def _write_late(self, event: GatewayRequestEvent) -> None:
        if self._thread is not None and self._thread.is_alive():  # still draining: let it have it
            self._count_drop()
            return
        try:
            conn = open_db(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._lost(1, exc)
            return
        try:
            with self._lock:
                self._write(conn, [event])
        finally:
            conn.close()

    # -- writer thread -------------------------------------------------------------------------

    def _prepare(self, event: GatewayRequestEvent) -> GatewayRequestEvent:
        prompt = _redacted(event.prompt) if self.store_prompts else None
        message = _redacted(event.error_message)
        if prompt == event.prompt and message == event.error_message:
            return event
        return dataclasses.replace(event, prompt=prompt, error_message=message)

    def _write(self, conn: sqlite3.Connection, batch: list[GatewayRequestEvent]) -> None:
        """Write ``batch`` in one transaction; when an event in it fails, each event in its own
        transaction with every value converted, so a bad event costs only itself."""
        if not batch:
            return
        try:
            self.written += insert_events(conn, [self._prepare(e) for e in batch])
            return
        except sqlite3.OperationalError as exc:  # the database (locked, full, I/O), not an event
            self._lost(len(batch), exc)
            return
        except Exception as exc:
            if len(batch) > 1:
                log.info("telemetry: a batch of %d failed (%r); writing it event by event", len(batch), exc)
        failures = 0
        for index, event in enumerate(batch):
            try:
                self.written += insert_events(conn, [self._prepare(event)], thorough=True)
            except sqlite3.OperationalError as exc:
                self._lost(len(batch) - index, exc)
                return
            except Exception as exc:
                self.failed += 1
                failures += 1
                if failures <= LOG_FAILURES:
                    log.warning("telemetry: event %r not written: %r", getattr(event, "id", None), exc)
        if failures > LOG_FAILURES:
            log.warning("telemetry: %d more events of that batch not written", failures - LOG_FAILURES)

    def _lost(self, count: int, exc: BaseException) -> None:
        self.failed += count
        log.warning("telemetry: %d events not written: %r", count, exc)

    def _prune(self, conn: sqlite3.Connection) -> None:
        try:
            self.pruned += prune(conn, retention_days=self.retention_days, now=self._clock())
        except sqlite3.Error as exc:
            log.warning("telemetry: pruning failed: %s", exc)

    def _drain(self, conn: sqlite3.Connection) -> None:
        """Write everything buffered now, ``batch_size`` events per transaction."""
        buffer = self._buffer
        wrote = bool(buffer)
        while buffer:
            batch: list[GatewayRequestEvent] = []
            while buffer and len(batch) < self.batch_size:
                batch.append(buffer.popleft())
            self._write(conn, batch)
        self._drained_at = time.monotonic()  # the buffer was empty just now
        if wrote and self.ledger is not None:
            self.ledger.nudge()

    def _run(self) -> None:
        try:
            conn = open_db(self.path)
        except (sqlite3.Error, OSError) as exc:
            self.error = exc
            log.error("telemetry disabled: cannot open %s: %s", self.path, exc)
            return
        try:
            self._prune(conn)
            next_prune = self._clock() + self.prune_every
            while True:
                if self._wake.wait(IDLE_WAKE) and not self._urgent.is_set():
                    # Gather events for a short while: one transaction for many events.
                    self._urgent.wait(self.linger)
                # Clear before taking work: whatever arrives from here on wakes the next round.
                self._wake.clear()
                self._urgent.clear()
                stop = self._stopping
                with self._lock:
                    markers, self._markers = self._markers, []
                try:
                    self._drain(conn)
                    if self._clock() >= next_prune:
                        self._prune(conn)
                        next_prune = self._clock() + self.prune_every
                    if stop:
                        self._drain(conn)  # anything emitted while closing
                except Exception as exc:  # a bug, not an event: keep the thread (and telemetry) alive
                    self.error = exc
                    log.exception("telemetry writer: unexpected error; carrying on")
                finally:
                    for marker in markers:
                        marker.done.set()
                if stop:
                    return
        finally:
            conn.close()
