"""The response cache's SQLite store: ``<data_dir>/response_cache.sqlite``, one table.

Owns the schema (a named migration, applied with ``storage.sqlite.migrate``), expiry
(``ttl_seconds``, judged by an injectable clock), and the size bounds (``max_entries`` and
``max_bytes``; least recently used entries go first; an entry bigger than ``max_bytes`` is not
stored). Every call opens a short connection under one lock, so it is safe from any thread; the
async wrappers run it in a worker thread so the event loop never waits on disk. Entries are
opaque JSON objects (``replay`` gives them meaning). Counters feed ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from ..core.config import ResponseCacheSettings
from ..storage.sqlite import Migration, connect, open_migrated

DB_NAME = "response_cache.sqlite"
Clock = Callable[[], float]


def m001_response_cache(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            created REAL NOT NULL,
            expires REAL NOT NULL,
            last_used REAL NOT NULL,
            size INTEGER NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0,
            payload TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX response_cache_lru ON response_cache (last_used)")


MIGRATIONS: tuple[Migration, ...] = (m001_response_cache,)


class ResponseCache:
    """Exact-match entries keyed by ``policy.cache_key``; JSON payloads."""

    def __init__(self, path: Path, settings: ResponseCacheSettings, *, clock: Clock = time.time) -> None:
        self.path = path
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._ready = False
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.evictions = 0

    def _open(self) -> sqlite3.Connection:
        if self._ready:
            return connect(self.path)
        conn = open_migrated(self.path, MIGRATIONS)
        self._ready = True
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The live entry for ``key`` (its use time refreshed), or None (expired ones are dropped)."""
        now = self.clock()
        with self._lock, closing(self._open()) as conn, conn:
            row = conn.execute("SELECT payload, expires FROM response_cache WHERE key = ?", (key,)).fetchone()
            if row is not None and row[1] <= now:
                conn.execute("DELETE FROM response_cache WHERE key = ?", (key,))
                row = None
            if row is None:
                self.misses += 1
                return None
            conn.execute("UPDATE response_cache SET last_used = ?, hits = hits + 1 WHERE key = ?", (now, key))
        self.hits += 1
        payload: dict[str, Any] = json.loads(row[0])
        return payload

    def put(self, key: str, payload: dict[str, Any]) -> bool:
        """Store an entry and enforce the bounds; False when it is too big to keep."""
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode())
        if size > self.settings.max_bytes:
            return False
        now = self.clock()
        with self._lock, closing(self._open()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO response_cache (key, created, expires, last_used, size, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, now, now + self.settings.ttl_seconds, now, size, text),
            )
            self._enforce(conn, now)
        self.stores += 1
        return True

    def _enforce(self, conn: sqlite3.Connection, now: float) -> None:
        conn.execute("DELETE FROM response_cache WHERE expires <= ?", (now,))
        count, total = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM response_cache").fetchone()
        limit_n, limit_b = self.settings.max_entries, self.settings.max_bytes
        if count <= limit_n and total <= limit_b:
            return
        doomed: list[tuple[str]] = []
        for key, size in conn.execute("SELECT key, size FROM response_cache ORDER BY last_used, created"):
            if count <= limit_n and total <= limit_b:
                break
            doomed.append((key,))
            count, total = count - 1, total - size
        conn.executemany("DELETE FROM response_cache WHERE key = ?", doomed)
        self.evictions += len(doomed)

    def stats(self) -> dict[str, Any]:
        """Entries and bytes on disk plus this process's counters."""
        entries, size = 0, 0
        if self.path.exists():
            with self._lock, closing(self._open()) as conn:
                entries, size = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM response_cache WHERE expires > ?",
                    (self.clock(),),
                ).fetchone()
        return {
            "enabled": self.settings.enabled,
            "entries": entries,
            "bytes": size,
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "evictions": self.evictions,
            "ttl_seconds": self.settings.ttl_seconds,
            "max_entries": self.settings.max_entries,
            "max_bytes": self.settings.max_bytes,
        }

    async def aget(self, key: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.get, key)

    async def aput(self, key: str, payload: dict[str, Any]) -> bool:
        return await asyncio.to_thread(self.put, key, payload)

    async def astats(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.stats)
