"""The response cache's SQLite store: round trip, TTL by an injectable clock, size bounds."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from stackbilt_gateway.daemon.cache.store import ResponseCache
from stackbilt_gateway.daemon.core.config import ResponseCacheSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def cache(tmp_path: Path, clock: Clock, **settings: int) -> ResponseCache:
    return ResponseCache(tmp_path / "rc.sqlite", ResponseCacheSettings(enabled=True, **settings), clock=clock)


def test_round_trip_and_counters(tmp_path: Path) -> None:
    rc = cache(tmp_path, Clock())
    assert rc.get("k") is None
    assert rc.put("k", {"texts": ["hello"]})
    assert rc.get("k") == {"texts": ["hello"]}
    stats = rc.stats()
    assert (stats["entries"], stats["hits"], stats["misses"], stats["stores"]) == (1, 1, 1, 1)
    with sqlite3.connect(tmp_path / "rc.sqlite") as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == ["m001_response_cache"]


def test_entries_expire_after_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    rc = cache(tmp_path, clock, ttl_seconds=60)
    rc.put("k", {"v": 1})
    clock.now += 59.9
    assert rc.get("k") == {"v": 1}
    clock.now += 0.2
    assert rc.get("k") is None
    assert rc.stats()["entries"] == 0


def test_max_entries_evicts_the_least_recently_used(tmp_path: Path) -> None:
    clock = Clock()
    rc = cache(tmp_path, clock, max_entries=2)
    for key in ("a", "b"):
        rc.put(key, {"k": key})
        clock.now += 1
    assert rc.get("a") is not None  # "a" is now more recent than "b"
    clock.now += 1
    rc.put("c", {"k": "c"})
    assert rc.get("b") is None and rc.get("a") is not None and rc.get("c") is not None
    assert rc.stats()["evictions"] == 1


def test_max_bytes_bounds_the_total_and_refuses_giants(tmp_path: Path) -> None:
    clock = Clock()
    rc = cache(tmp_path, clock, max_bytes=2_048)
    for i in range(5):
        assert rc.put(f"k{i}", {"text": "x" * 600})
        clock.now += 1
    stats = rc.stats()
    assert stats["bytes"] <= 2_048 and stats["entries"] == 3
    assert rc.get("k0") is None and rc.get("k4") is not None
    assert not rc.put("giant", {"text": "y" * 5_000})
    assert rc.get("giant") is None


def test_a_cache_file_from_an_older_gateway_keeps_its_entries(tmp_path: Path) -> None:
    """The schema and bookkeeping as shipped (frozen here), opened by the current store: nothing
    re-applied, entries served, and the file switched to the shared WAL settings."""
    path = tmp_path / "data" / "rc.sqlite"
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as legacy, legacy:
        legacy.executescript(
            """
            CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
            CREATE TABLE response_cache (
                key TEXT PRIMARY KEY, created REAL NOT NULL, expires REAL NOT NULL,
                last_used REAL NOT NULL, size INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0,
                payload TEXT NOT NULL
            );
            CREATE INDEX response_cache_lru ON response_cache (last_used);
            INSERT INTO _migrations VALUES ('m001_response_cache', 5.0);
            INSERT INTO response_cache VALUES ('old', 900.0, 5000.0, 900.0, 12, 0, '{"texts":["hi"]}');
            """
        )
    rc = ResponseCache(path, ResponseCacheSettings(enabled=True), clock=Clock())
    assert rc.get("old") == {"texts": ["hi"]}
    assert rc.stats()["entries"] == 1
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name, applied_at FROM _migrations").fetchall() == [
            ("m001_response_cache", 5.0)
        ]
        assert conn.execute("SELECT hits, last_used FROM response_cache").fetchone() == (1, 1_000.0)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_cache_creates_its_folder(tmp_path: Path) -> None:
    rc = ResponseCache(tmp_path / "a" / "b" / "rc.sqlite", ResponseCacheSettings(enabled=True), clock=Clock())
    assert rc.put("k", {"v": 1}) and rc.get("k") == {"v": 1}
