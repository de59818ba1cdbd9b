"""The one telemetry writer: a thread fed by a bounded buffer, so request handlers never wait.

``emit`` is O(1), thread-safe and never blocks (callable from the event loop): it appends to a
deque and wakes the thread only for the first event of a batch, so a busy gateway pays no
thread hand-off per request. When the buffer is full the NEW event is dropped and counted
(``dropped``). The thread gathers events for ``linger`` seconds and writes them in batches, one
transaction each, so a crash loses at most the events still buffered; ``flush`` and ``close``
skip the wait, and ``close`` drains the buffer first. Before anything reaches disk, error
messages and prompts are redacted, and prompts are dropped entirely unless ``store_prompts``.
Retention pruning runs on start and once a day.
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

from ..storage.redact import redact
from .events import GatewayRequestEvent
from .store import DAY, insert_events, open_db, prune

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH = 500
# The longest the idle thread sleeps before it checks whether pruning is due.
IDLE_WAKE = 60.0


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
    ) -> None:
        self.path = path
        self.maxsize = maxsize
        self.batch_size = batch_size
        # Seconds the writer waits after the first event of a batch for more to arrive.
        self.linger = linger
        self.retention_days = retention_days
        self.store_prompts = store_prompts
        self.prune_every = prune_every
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
        self.failed = 0
        self.pruned = 0
        self.error: BaseException | None = None

    # -- producer side -------------------------------------------------------------------------

    def emit(self, event: GatewayRequestEvent) -> None:
        """Buffer ``event`` for writing; drop (and count) it when the buffer is full or closed."""
        if self._closed or len(self._buffer) >= self.maxsize:
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

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
            self._thread.start()

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
        if self._thread.is_alive():
            log.warning("telemetry writer did not drain in %.0fs; %d events lost", timeout, self.pending)

    # -- writer thread -------------------------------------------------------------------------

    def _prepare(self, event: GatewayRequestEvent) -> GatewayRequestEvent:
        prompt = redact(event.prompt) if (self.store_prompts and event.prompt) else None
        message = redact(event.error_message) if event.error_message else None
        if prompt == event.prompt and message == event.error_message:
            return event
        return dataclasses.replace(event, prompt=prompt, error_message=message)

    def _write(self, conn: sqlite3.Connection, batch: list[GatewayRequestEvent]) -> None:
        if not batch:
            return
        try:
            self.written += insert_events(conn, [self._prepare(e) for e in batch])
        except (sqlite3.Error, ValueError, TypeError) as exc:
            self.failed += len(batch)
            log.warning("telemetry: %d events not written: %s", len(batch), exc)

    def _prune(self, conn: sqlite3.Connection) -> None:
        try:
            self.pruned += prune(conn, retention_days=self.retention_days, now=self._clock())
        except sqlite3.Error as exc:
            log.warning("telemetry: pruning failed: %s", exc)

    def _drain(self, conn: sqlite3.Connection) -> None:
        """Write everything buffered now, ``batch_size`` events per transaction."""
        buffer = self._buffer
        while buffer:
            batch: list[GatewayRequestEvent] = []
            while buffer and len(batch) < self.batch_size:
                batch.append(buffer.popleft())
            self._write(conn, batch)

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
                self._drain(conn)
                for marker in markers:
                    marker.done.set()
                if self._clock() >= next_prune:
                    self._prune(conn)
                    next_prune = self._clock() + self.prune_every
                if stop:
                    self._drain(conn)  # anything emitted while closing
                    return
        finally:
            conn.close()
