"""The one telemetry writer: a thread fed by a bounded queue, so request handlers never wait.

``emit`` is O(1), thread-safe and never blocks (callable from the event loop): when the queue
is full the NEW event is dropped and counted (``dropped``). The thread writes in batches, one
transaction each, so a crash loses at most the events still queued; ``close`` drains the queue
first. Before anything reaches disk, error messages and prompts are redacted, and prompts are
dropped entirely unless ``store_prompts``. Retention pruning runs on start and once a day.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .events import GatewayRequestEvent
from .redact import redact
from .store import DAY, insert_events, open_db, prune

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH = 500
_STOP = object()


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
        self.batch_size = batch_size
        # Seconds the writer waits after the first event of a batch for more to arrive.
        self.linger = linger
        self.retention_days = retention_days
        self.store_prompts = store_prompts
        self.prune_every = prune_every
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
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
        """Queue ``event`` for writing; drop (and count) it when the queue is full or closed."""
        if self._closed:
            self._count_drop()
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count_drop()

    def _count_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything emitted so far is written (for tests and shutdown paths)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, then stop the thread. Later ``emit`` calls are dropped."""
        if self._closed:
            return
        self.start()
        assert self._thread is not None
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("telemetry writer did not drain in %.0fs; %d events lost", timeout, self.pending)
        self._closed = True
        self._thread.join(timeout)

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

    def _next_for_batch(self, *, deadline: float, flushing: bool) -> object | None:
        """The next queued item, waiting until ``deadline`` unless a flush/stop is pending."""
        try:
            if flushing:
                return self._queue.get_nowait()
            remaining = deadline - time.monotonic()
            return self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

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
            stop = False
            while not stop:
                try:
                    item = self._queue.get(timeout=1.0)
                except queue.Empty:
                    item = None
                batch: list[GatewayRequestEvent] = []
                markers: list[_Flush] = []
                # Gather events for a short while: one transaction for many events.
                linger_until = time.monotonic() + self.linger
                while item is not None:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, _Flush):
                        markers.append(item)
                    elif isinstance(item, GatewayRequestEvent):
                        batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._write(conn, batch)
                        batch = []
                    item = self._next_for_batch(deadline=linger_until, flushing=stop or bool(markers))
                self._write(conn, batch)
                for marker in markers:
                    marker.done.set()
                if self._clock() >= next_prune:
                    self._prune(conn)
                    next_prune = self._clock() + self.prune_every
        finally:
            conn.close()
