"""The writer and the ledger thread in-process against the real PostgreSQL server: values SQLite
keeps but PostgreSQL refuses (NUL characters, odd JSON, huge numbers) still arrive; a replaced
event is shipped again; switching the ledger on queues the local history, switching it off
drops the outbox; an unreachable server keeps everything queued."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.postgres import PostgresLedger
from stackbilt_gateway.daemon.telemetry.postgres_schema import TABLE
from stackbilt_gateway.daemon.telemetry.writer import EventWriter
from tests.team.conftest import wait_until
from tests.team.pgserver import PASSWORD, PgServer, free_port


def rows(url: str) -> dict[str, dict[str, object]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        try:
            cur.execute(f"SELECT * FROM {TABLE}")
        except psycopg.errors.UndefinedTable:  # no daemon has connected yet
            return {}
        return {str(r["id"]): dict(r) for r in cur.fetchall()}


def writer_for(path: Path, url: str | None, user: str = "tess") -> EventWriter:
    ledger = PostgresLedger(url, path, machine="box", user=user, retry_max=1.0) if url else None
    writer = EventWriter(path, ledger=ledger)
    writer.prepare()
    writer.start()
    return writer


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        }
    finally:
        conn.close()


def test_hostile_values_arrive(tmp_path: Path, ledger_url: str) -> None:
    path = tmp_path / "telemetry.sqlite"
    writer = writer_for(path, ledger_url)
    try:
        odd = GatewayRequestEvent(
            error_message="nul \x00 inside", repo="r\x00epo", signals={"k": "v\x00"}, cost_usd=math.nan,
            input_tokens=2**70, latency_ms=math.inf, status="error",
        )  # fmt: skip
        plain = GatewayRequestEvent(requested_model="m1", cost_usd=0.5)
        writer.emit(odd)
        writer.emit(plain)
        assert writer.flush()
        wait_until(lambda: len(rows(ledger_url)) == 2, 20, "both rows")
        got = rows(ledger_url)
        assert got[odd.id]["repo"] == "r\ufffdepo" and got[odd.id]["cost_usd"] is None
        assert got[odd.id]["signals"] == {"k": "v\ufffd"} and got[odd.id]["user"] == "tess"
        assert got[plain.id]["cost_usd"] == 0.5 and got[plain.id]["machine"] == "box"
        # Replaced locally (same id, new values): shipped again, one row.
        writer.emit(GatewayRequestEvent(id=plain.id, requested_model="m2", cost_usd=0.75))
        assert writer.flush()
        wait_until(lambda: rows(ledger_url)[plain.id]["requested_model"] == "m2", 20, "the replacement")
        assert len(rows(ledger_url)) == 2
        assert writer.ledger is not None and writer.ledger.failed == 0 and writer.problem() is None
    finally:
        writer.close()


def test_switching_on_ships_history_and_off_drops_the_outbox(tmp_path: Path, ledger_url: str) -> None:
    path = tmp_path / "telemetry.sqlite"
    local = writer_for(path, None)
    earlier = [GatewayRequestEvent() for _ in range(3)]
    for event in earlier:
        local.emit(event)
    assert local.flush()
    local.close()
    assert "pg_outbox" not in tables(path)

    team = writer_for(path, ledger_url)
    try:
        assert team.ledger is not None and team.ledger.queued_at_start == 3
        wait_until(lambda: set(rows(ledger_url)) == {e.id for e in earlier}, 20, "the history shipped")
    finally:
        team.close()
    assert {"pg_outbox", "pg_outbox_add"} <= tables(path)
    off = writer_for(path, None)
    off.close()
    assert not {"pg_outbox", "pg_outbox_add", "pg_outbox_target"} & tables(path)


def test_an_unreachable_server_keeps_everything_queued(tmp_path: Path, pg: PgServer, ledger_url: str) -> None:
    path = tmp_path / "telemetry.sqlite"
    nowhere = ledger_url.replace(f":{pg.port}/", f":{free_port()}/")
    writer = writer_for(path, nowhere)
    try:
        events = [GatewayRequestEvent() for _ in range(4)]
        for event in events:
            writer.emit(event)
        assert writer.flush()
        assert writer.ledger is not None
        wait_until(lambda: writer.problem() is not None and writer.ledger.pending == 4, 20, "the warning")
        problem = writer.problem() or ""
        assert "unreachable" in problem and "4 events kept locally" in problem and PASSWORD not in problem
        assert writer.written == 4 and writer.failed == 0
    finally:
        writer.close()
    again = writer_for(path, ledger_url)  # pointed at a reachable ledger: the queue drains
    try:
        wait_until(lambda: set(rows(ledger_url)) == {e.id for e in events}, 20, "the queue drained")
    finally:
        again.close()
