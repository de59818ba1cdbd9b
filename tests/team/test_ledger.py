"""The shared team ledger end to end: real daemons (two homes, two users) ship every event to a
real PostgreSQL server; ``stats --team`` and ``GET /team`` read both back; a database outage
loses nothing (kept locally, across a restart too, sent once it is back); wrong credentials are
a warning that never shows the password."""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
import pytest
from psycopg.rows import dict_row

from stackbilt_gateway.daemon.telemetry.events import COLUMNS
from stackbilt_gateway.daemon.telemetry.postgres_schema import TABLE
from tests.team.conftest import Developer, wait_until
from tests.team.pgserver import PASSWORD, PgServer

pytestmark = pytest.mark.e2e

Make = Callable[..., Developer]


def ledger_rows(url: str) -> dict[str, dict[str, object]]:
    with psycopg.connect(url, connect_timeout=5) as conn, conn.cursor(row_factory=dict_row) as cur:
        try:
            cur.execute(f"SELECT * FROM {TABLE}")
        except psycopg.errors.UndefinedTable:  # no daemon has connected yet
            return {}
        return {str(row["id"]): dict(row) for row in cur.fetchall()}


def shipped(dev: Developer, url: str) -> bool:
    local = dev.local_ids()
    return bool(local) and local <= set(ledger_rows(url))


def test_two_developers_one_ledger(developers: Make, ledger_url: str) -> None:
    alice, bob = developers("alice").start(), developers("bob").start()
    for _ in range(3):
        alice.request()
    for _ in range(2):
        bob.request()
    wait_until(lambda: len(alice.local_ids()) == 3 and len(bob.local_ids()) == 2, 20, "local events")
    wait_until(lambda: shipped(alice, ledger_url) and shipped(bob, ledger_url), 30, "both shipped")

    rows = ledger_rows(ledger_url)
    assert len(rows) == 5
    assert {r["user"] for r in rows.values()} == {"alice", "bob"}
    assert all(r["machine"] for r in rows.values())
    assert {k for k, r in rows.items() if r["user"] == "alice"} == alice.local_ids()
    # Same schema as the local table, plus machine and user.
    assert set(next(iter(rows.values()))) == {*COLUMNS, "machine", "user"}
    one = next(iter(rows.values()))
    assert isinstance(one["signals"], dict) and isinstance(one["fallback_chain"], list)
    assert one["requested_model"] == "claude-haiku-4-5" and one["input_tokens"] > 0

    report = alice.get("/team", since="all").json()
    users = {r["key"]: r for r in report["by_user"]}
    assert set(users) == {"alice", "bob"}
    assert users["alice"]["requests"] == 3 and users["bob"]["requests"] == 2
    assert report["totals"]["requests"] == 5 and report["totals"]["users"] == 2
    assert report["totals"]["cost_usd"] == pytest.approx(
        sum(float(r["cost_usd"] or 0) for r in rows.values())
    )
    # projected (shadow) and realised (live) savings apart, never summed
    for column, live in (("savings_projected_usd", False), ("savings_realised_usd", True)):
        want = sum(float(r["savings_usd"] or 0) for r in rows.values() if (r["mode"] == "live") is live)
        assert report["totals"][column] == pytest.approx(want)
    assert "savings_usd" not in report["totals"]
    assert {r["requested_model"] for r in report["routes"]} == {"claude-haiku-4-5"}
    assert report["ledger"]["user"] == "alice" and report["ledger"]["pending"] == 0
    assert report["ledger"]["shipped"] == 3 and report["ledger"]["problem"] is None
    assert PASSWORD not in json.dumps(report) and "***" in report["ledger"]["url"]
    status = bob.get("/team/status").json()
    assert status["shipped"] == 2 and status["connected"] is True

    out = bob.cli("stats", "--team", "--since", "all")
    assert out.returncode == 0, out.stderr
    assert "alice" in out.stdout and "bob" in out.stdout and "claude-haiku-4-5" in out.stdout
    assert "projected $" in out.stdout and "realised $" in out.stdout and "savings $" not in out.stdout
    assert PASSWORD not in out.stdout
    as_json = json.loads(bob.cli("stats", "--team", "--json").stdout)
    assert {r["key"] for r in as_json["by_user"]} == {"alice", "bob"}


def test_outage_loses_nothing_and_survives_a_restart(developers: Make, ledger_url: str, pg: PgServer) -> None:
    alice, bob = developers("alice").start(), developers("bob").start()
    alice.request()
    bob.request()
    wait_until(lambda: shipped(alice, ledger_url) and shipped(bob, ledger_url), 30, "first events shipped")

    pg.stop()
    try:
        for i in range(6):  # requests flow while the database is down: none fails, none waits
            alice.request(f"during the outage {i}")
            bob.request(f"during the outage {i}")
        wait_until(lambda: len(alice.local_ids()) == 7 and len(bob.local_ids()) == 7, 20, "kept locally")

        def warned() -> bool:
            health = alice.get("/health").json()
            return any("team ledger" in r for r in health["reasons"])

        wait_until(warned, 30, "/health to warn about the ledger")
        health = alice.get("/health").json()
        assert health["status"] == "degraded" and PASSWORD not in json.dumps(health)
        status = alice.get("/team/status").json()
        assert status["pending"] == 6 and status["connected"] is False and status["problem"]
        down = alice.get("/team")
        assert down.status_code == 503 and "cannot be read" in down.text and PASSWORD not in down.text
        doctor = alice.cli("doctor")
        assert "team ledger" in doctor.stdout and PASSWORD not in doctor.stdout + doctor.stderr
        # Bob's daemon stops with its events still queued: they ship from its next run.
        bob.stop()
    finally:
        pg.start()
    wait_until(lambda: shipped(alice, ledger_url), 60, "alice's queued events shipped once back")
    assert alice.get("/team/status").json()["pending"] == 0
    assert not shipped(bob, ledger_url)
    bob.start()
    wait_until(lambda: shipped(bob, ledger_url), 60, "bob's queued events shipped after his restart")
    rows = ledger_rows(ledger_url)
    assert len(rows) == 14 and set(rows) == alice.local_ids() | bob.local_ids()
    wait_until(lambda: not any("team ledger" in r for r in alice.get("/health").json()["reasons"]), 30, "ok")
    log = (alice.paths.log_file).read_text()
    assert PASSWORD not in log and "unreachable" in log


def test_wrong_credentials_warn_and_keep_events(developers: Make, ledger_url: str) -> None:
    wrong = ledger_url.replace(PASSWORD, "not-the-password-123")
    carol = developers("carol", {"telemetry": {"postgres_url": wrong}}).start()
    carol.request()

    def warned() -> bool:
        return any("password authentication failed" in r for r in carol.get("/health").json()["reasons"])

    wait_until(warned, 30, "a credentials warning")
    wait_until(lambda: carol.get("/team/status").json()["pending"] == 1, 20, "the event kept locally")
    for text in (carol.get("/health").text, carol.get("/team/status").text, carol.cli("doctor").stdout):
        assert "not-the-password-123" not in text
    status = carol.cli("status")
    assert "not-the-password-123" not in status.stdout
    assert "not-the-password-123" not in carol.paths.log_file.read_text()
