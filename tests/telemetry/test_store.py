"""The SQLite store: migrations, final schema, restart, pruning, and the writer thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.storage.sqlite import applied, migrate, open_migrated
from stackbilt_gateway.daemon.telemetry import EventWriter, FallbackAttempt, GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.events import COLUMNS
from stackbilt_gateway.daemon.telemetry.migrations import MIGRATIONS
from stackbilt_gateway.daemon.telemetry.queries import recent
from stackbilt_gateway.daemon.telemetry.store import CHUNK, DAY, db_path, insert_events, open_db, prune

EXPECTED_COLUMNS = [
    ("id", "TEXT"),
    ("ts", "REAL"),
    ("client", "TEXT"),
    ("protocol", "TEXT"),
    ("session_id", "TEXT"),
    ("repo", "TEXT"),
    ("branch", "TEXT"),
    ("route_class", "TEXT"),
    ("confidence", "REAL"),
    ("signals", "TEXT"),
    ("mode", "TEXT"),
    ("requested_provider", "TEXT"),
    ("requested_model", "TEXT"),
    ("selected_provider", "TEXT"),
    ("selected_model", "TEXT"),
    ("would_provider", "TEXT"),
    ("would_model", "TEXT"),
    ("fallback_chain", "TEXT"),
    ("status", "TEXT"),
    ("http_status", "INTEGER"),
    ("error_class", "TEXT"),
    ("error_message", "TEXT"),
    ("stream", "INTEGER"),
    ("input_tokens", "INTEGER"),
    ("output_tokens", "INTEGER"),
    ("cache_read_tokens", "INTEGER"),
    ("cache_write_tokens", "INTEGER"),
    ("reasoning_tokens", "INTEGER"),
    ("usage_estimated", "INTEGER"),
    ("cost_usd", "REAL"),
    ("would_cost_usd", "REAL"),
    ("savings_usd", "REAL"),
    ("latency_ms", "REAL"),
    ("ttfb_ms", "REAL"),
    ("cache_status", "TEXT"),
    ("prompt", "TEXT"),
    ("cost_estimated", "INTEGER"),
    ("cache_write_1h_tokens", "INTEGER"),
    ("task_id", "TEXT"),
    ("decision_id", "TEXT"),
    ("holdout", "INTEGER"),
    ("client_id", "TEXT"),
    ("stop_reason", "TEXT"),
]


def test_migrations_produce_the_final_schema(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "t.sqlite")
    try:
        info = [(row[1], row[2]) for row in conn.execute("PRAGMA table_info(events)")]
        assert info == EXPECTED_COLUMNS
        assert sorted(c for c, _ in info) == sorted(COLUMNS)  # every event field has a column
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
        assert {"events_ts", "events_session", "events_class_ts"} <= indexes
        assert applied(conn) == [m.__name__ for m in MIGRATIONS]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert migrate(conn, MIGRATIONS) == []  # idempotent
    finally:
        conn.close()


def test_migrations_resume_from_a_partial_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.sqlite")
    try:
        assert migrate(conn, MIGRATIONS[:1]) == ["m001_events"]
        assert migrate(conn, MIGRATIONS) == [
            "m002_event_indexes",
            "m003_cost_estimated",
            "m004_cache_write_1h",
            "m005_tasks",
            "m006_client_id",
            "m007_stop_reason",
        ]
    finally:
        conn.close()


def test_a_restart_keeps_the_events(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path)
    writer.start()
    writer.emit(
        GatewayRequestEvent(id="a", client="codex", fallback_chain=[FallbackAttempt("groq", "m", "ok")])
    )
    writer.close()
    writer = EventWriter(path)
    writer.start()
    writer.emit(GatewayRequestEvent(id="b"))
    writer.close()
    rows = recent(path)
    assert [r["id"] for r in rows] == ["b", "a"] or {r["id"] for r in rows} == {"a", "b"}
    first = next(r for r in rows if r["id"] == "a")
    assert first["client"] == "codex"
    assert first["fallback_chain"] == [{"provider": "groq", "model": "m", "status": "ok", "error": None}]
    assert first["stream"] is False


def test_emit_never_blocks_and_counts_drops_when_the_writer_stalls(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, maxsize=5)  # not started: a stalled writer
    started = time.perf_counter()
    for i in range(50):
        writer.emit(GatewayRequestEvent(id=f"e{i:02d}"))
    assert time.perf_counter() - started < 0.5
    assert writer.dropped == 45 and writer.pending == 5
    writer.close()  # starts, drains, stops
    assert sorted(r["id"] for r in recent(path)) == [f"e{i:02d}" for i in range(5)]
    writer.emit(GatewayRequestEvent(id="late"))  # after close (a stream cut at shutdown): written at once
    assert writer.dropped == 45 and "late" in {r["id"] for r in recent(path)}


def test_events_emitted_before_close_are_on_disk_after_close(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, batch_size=7)
    writer.start()
    for i in range(100):
        writer.emit(GatewayRequestEvent(id=f"e{i:03d}"))
    writer.close()
    assert writer.written == 100 and writer.dropped == 0
    assert len(recent(path, limit=1000)) == 100


def test_flush_waits_for_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path)
    writer.start()
    try:
        writer.emit(GatewayRequestEvent(id="x"))
        assert writer.flush(5)
        assert [r["id"] for r in recent(path)] == ["x"]
    finally:
        writer.close()


class _CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def test_a_burst_wakes_the_writer_once_and_lands_in_one_transaction(tmp_path: Path) -> None:
    """No thread hand-off per event: the first event of a batch wakes the writer, the rest
    ride along, and the batch is one transaction."""
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, linger=0.5)
    wake = writer._wake = _CountingEvent()
    transactions: list[int] = []
    real_write = writer._write
    writer._write = lambda conn, batch: (transactions.append(len(batch)), real_write(conn, batch))[1]  # type: ignore[method-assign]
    writer.start()
    try:
        for i in range(300):
            writer.emit(GatewayRequestEvent(id=f"b{i:03d}"))
        assert wake.sets == 1
        deadline = time.monotonic() + 10
        while writer.written < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.written == 300 and transactions == [300]
        writer.emit(GatewayRequestEvent(id="next"))  # the next batch wakes it again
        assert wake.sets == 2
        assert writer.flush(5)
        assert len(recent(path, limit=1000)) == 301
    finally:
        writer.close()


def test_prompts_are_dropped_unless_opted_in_and_redacted_when_stored(tmp_path: Path) -> None:
    secret = "my key is sk-ant-api03-AAAAAAAAAAAAAAAAAAAA please"
    event = GatewayRequestEvent(id="p", prompt=secret, error_message="401: Bearer abcdefgh12345678 rejected")
    off = EventWriter(tmp_path / "off.sqlite")
    off.emit(event)
    off.close()
    row = recent(tmp_path / "off.sqlite")[0]
    assert row["prompt"] is None
    assert row["error_message"] == "401: Bearer *** rejected"
    on = EventWriter(tmp_path / "on.sqlite", store_prompts=True)
    on.emit(event)
    on.close()
    assert recent(tmp_path / "on.sqlite")[0]["prompt"] == "my key is sk-ant-*** please"


def test_retention_prunes_on_start(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    now = 1_800_000_000.0
    conn = open_db(path)
    try:
        insert_events(
            conn,
            [
                GatewayRequestEvent(id="old", ts=now - 91 * DAY),
                GatewayRequestEvent(id="edge", ts=now - 89 * DAY),
                GatewayRequestEvent(id="new", ts=now),
            ],
        )
    finally:
        conn.close()
    writer = EventWriter(path, retention_days=90, clock=lambda: now)
    writer.start()
    writer.close()
    assert writer.pruned == 1
    assert sorted(r["id"] for r in recent(path)) == ["edge", "new"]


def test_batches_longer_than_a_statement_keep_every_row_and_column(tmp_path: Path) -> None:
    """Full multi-row statements plus row-by-row leftovers: nothing lost, nothing shifted."""
    n = 2 * CHUNK + 5
    events = [
        GatewayRequestEvent(
            id=f"m{i:03d}",
            ts=1000.0 + i,
            client="codex",
            session_id=f"s{i}",
            input_tokens=i,
            output_tokens=2 * i,
            stream=bool(i % 2),
            fallback_chain=[FallbackAttempt("groq", f"m{i}", "ok")],
        )
        for i in range(n)
    ]
    conn = open_db(tmp_path / "t.sqlite")
    try:
        assert insert_events(conn, events) == n
        columns = "id, ts, session_id, input_tokens, output_tokens, stream, fallback_chain"
        rows = conn.execute(f"SELECT {columns} FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    assert len(rows) == n
    for i, (event_id, ts, session, tokens_in, tokens_out, stream, chain) in enumerate(rows):
        assert (event_id, ts, session, tokens_in, tokens_out, stream) == (
            f"m{i:03d}",
            1000.0 + i,
            f"s{i}",
            i,
            2 * i,
            i % 2,
        )
        assert f'"model":"m{i}"' in chain


def test_prune_helper(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "t.sqlite")
    try:
        insert_events(conn, [GatewayRequestEvent(id=str(i), ts=i * DAY) for i in range(10)])
        assert prune(conn, retention_days=3, now=10 * DAY) == 7
    finally:
        conn.close()


def test_an_unwritable_database_disables_telemetry_without_raising(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    writer = EventWriter(blocker / "t.sqlite")
    writer.start()
    writer.emit(GatewayRequestEvent())
    writer.close()
    assert writer.error is not None and writer.written == 0


def test_db_path_override(tmp_path: Path) -> None:
    assert db_path(tmp_path) == tmp_path / "telemetry.sqlite"
    seed = tmp_path / ".stackbilt" / "gateway" / "events.sqlite"
    assert db_path(tmp_path, seed) == seed
    writer = EventWriter(seed)
    writer.emit(GatewayRequestEvent(id="s"))
    writer.close()
    assert seed.exists() and recent(seed)[0]["id"] == "s"


@pytest.mark.parametrize("missing", ["nothing-here.sqlite"])
def test_queries_on_a_missing_database_are_empty(tmp_path: Path, missing: str) -> None:
    assert recent(tmp_path / missing) == []


# A telemetry database as the gateway shipped it before ``m003_cost_estimated`` (and before the
# shared ``storage.sqlite`` helper): frozen DDL and bookkeeping rows, not the live migrations.
_SHIPPED_V2 = """
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
CREATE TABLE events (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, client TEXT NOT NULL, protocol TEXT NOT NULL,
    session_id TEXT, repo TEXT, branch TEXT, route_class TEXT, confidence REAL,
    signals TEXT NOT NULL DEFAULT '{}', mode TEXT NOT NULL, requested_provider TEXT,
    requested_model TEXT, selected_provider TEXT, selected_model TEXT, would_provider TEXT,
    would_model TEXT, fallback_chain TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL,
    http_status INTEGER, error_class TEXT, error_message TEXT, stream INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0, cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0, usage_estimated INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL, would_cost_usd REAL, savings_usd REAL, latency_ms REAL, ttfb_ms REAL,
    cache_status TEXT, prompt TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_session ON events (session_id, ts);
CREATE INDEX events_class_ts ON events (route_class, ts);
INSERT INTO _migrations (name, applied_at) VALUES ('m001_events', 1.0), ('m002_event_indexes', 2.0);
INSERT INTO events (id, ts, client, protocol, mode, status, selected_provider, cost_usd)
    VALUES ('old', 1000.0, 'codex', 'responses', 'shadow', 'ok', 'openai', 0.25);
"""


def test_a_database_from_an_older_gateway_opens_and_migrates_forward(tmp_path: Path) -> None:
    path = tmp_path / "gw" / "telemetry.sqlite"
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as legacy:
        legacy.executescript(_SHIPPED_V2)
        legacy.execute("PRAGMA journal_mode = WAL")
    conn = open_db(path)
    try:
        assert applied(conn) == [
            "m001_events",
            "m002_event_indexes",
            "m003_cost_estimated",
            "m004_cache_write_1h",
            "m005_tasks",
            "m006_client_id",
            "m007_stop_reason",
        ]
        assert [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(events)")] == EXPECTED_COLUMNS
        stamps = dict(conn.execute("SELECT name, applied_at FROM _migrations").fetchall())
        assert (stamps["m001_events"], stamps["m002_event_indexes"]) == (1.0, 2.0)  # history kept
        insert_events(conn, [GatewayRequestEvent(id="new", ts=2000.0, cost_estimated=True)])
    finally:
        conn.close()
    rows = {r["id"]: r for r in recent(path)}
    assert rows["old"]["client"] == "codex" and rows["old"]["cost_usd"] == 0.25
    assert rows["old"]["cost_estimated"] is False and rows["new"]["cost_estimated"] is True
    conn = open_db(path)  # and again: nothing left to apply
    try:
        assert migrate(conn, MIGRATIONS) == []
    finally:
        conn.close()


# A telemetry database as shipped before ``m004_cache_write_1h``: one write column (frozen DDL).
_SHIPPED_V3 = (
    _SHIPPED_V2.replace(
        "cache_status TEXT, prompt TEXT\n);",
        "cache_status TEXT, prompt TEXT, cost_estimated INTEGER NOT NULL DEFAULT 0\n);",
    ).replace("('m002_event_indexes', 2.0);", "('m002_event_indexes', 2.0), ('m003_cost_estimated', 3.0);")
    + """
INSERT INTO events (id, ts, client, protocol, mode, status, cache_write_tokens, cost_usd)
    VALUES ('writes', 1001.0, 'claude-code', 'anthropic', 'shadow', 'ok', 5000, 0.75);
"""
)


def test_a_database_before_the_1h_write_column_gains_it_with_zeros(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.sqlite"
    with closing(sqlite3.connect(path)) as legacy:
        legacy.executescript(_SHIPPED_V3)
    conn = open_db(path)
    try:
        assert migrate(conn, MIGRATIONS) == []  # open_db applied it
        assert "m004_cache_write_1h" in applied(conn)
        assert [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(events)")] == EXPECTED_COLUMNS
        insert_events(
            conn,
            [GatewayRequestEvent(id="new", ts=2000.0, cache_write_tokens=900, cache_write_1h_tokens=600)],
        )
    finally:
        conn.close()
    rows = {r["id"]: r for r in recent(path)}
    old = rows["writes"]
    assert (old["cache_write_tokens"], old["cache_write_1h_tokens"], old["cost_usd"]) == (5000, 0, 0.75)
    assert rows["old"]["cache_write_1h_tokens"] == 0
    assert (rows["new"]["cache_write_tokens"], rows["new"]["cache_write_1h_tokens"]) == (900, 600)


def _m_ok(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE a (x INTEGER)")


def _m_fails_halfway(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE b (x INTEGER)")
    conn.execute("INSERT INTO nowhere VALUES (1)")


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        open_migrated(path, [_m_ok, _m_fails_halfway])
    with closing(sqlite3.connect(path)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"_migrations", "a"}  # b rolled back with its migration
        assert applied(conn) == ["_m_ok"]
