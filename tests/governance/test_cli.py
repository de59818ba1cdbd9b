"""``stackbilt-gw clients`` (only the key on stdout, never a key in ``list``, stored hashed, 0600)
and ``stackbilt-gw export`` (JSON lines and CSV, refusals included)."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest

from stackbilt_gateway.daemon.cli import main
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.governance.clients_store import clients_file, hash_key
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import db_path, insert_events, open_db


def test_clients_add_list_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clients", "add", "dev-local-1", "--rpm", "5", "--concurrency", "2"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert out == key + "\n" and key.startswith("sgw-c-") and len(key) > 40
    assert "dev-local-1" in err and key not in err
    path = clients_file(resolve_paths().config_dir)
    text = path.read_text()
    assert key not in text and hash_key(key) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["clients", "add", "dev-local-1"]) == 1  # exists
    assert main(["clients", "add", "local"]) == 1
    assert main(["clients", "add", "bad name"]) == 1
    assert main(["clients", "add", "x", "--rpm", "0"]) == 2
    capsys.readouterr()
    assert main(["clients", "list"]) == 0
    listing = capsys.readouterr().out
    assert "dev-local-1" in listing and "local" in listing and key not in listing and "sgw-" not in listing
    assert main(["clients", "revoke", "dev-local-1"]) == 0
    assert main(["clients", "revoke", "dev-local-1"]) == 1
    assert main(["clients", "revoke", "local"]) == 2
    assert hash_key(key) not in path.read_text()


def test_export_writes_jsonl_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    conn = open_db(db_path(resolve_paths().data_dir))
    now = time.time()
    insert_events(
        conn,
        [
            GatewayRequestEvent(id="a", ts=now - 60, client_id="dev", status="ok", cost_usd=0.01),
            GatewayRequestEvent(
                id="b",
                ts=now - 30,
                client_id="dev",
                status="refused",
                http_status=429,
                error_class="rate_limit.rpm",
                error_message="rate_limited: Request rate exceeded for client_id dev",
            ),
            GatewayRequestEvent(id="old", ts=now - 30 * 86400, client_id="dev"),
        ],
    )
    conn.close()
    assert main(["export", "--since", "7d", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1]["status"] == "refused" and rows[1]["error_class"] == "rate_limit.rpm"
    assert rows[1]["client_id"] == "dev"
    assert main(["export", "--since", "all", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in table] == ["old", "a", "b"] and table[2]["status"] == "refused"
    assert main(["export", "--since", "soon"]) == 2
