"""The response cache's SQLite store: round trip, TTL by an injectable clock, size bounds."""

from __future__ import annotations

import sqlite3
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
