"""``telemetry.postgres_url``: validated at load (a malformed URL names the key and never shows
its password), masked wherever it is shown; and the ledger's schema follows the event's columns
(named migrations once, then every missing column added) on a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import ConfigError, TelemetrySettings, mask_url_password
from stackbilt_gateway.daemon.telemetry import postgres_schema
from stackbilt_gateway.daemon.telemetry.events import COLUMNS
from tests.team.conftest import Developer
from tests.team.pgserver import PgServer


def _load(tmp_path: Path, value: object) -> TelemetrySettings:
    home = tmp_path / "home"
    paths = resolve_paths({"STACKBILT_GATEWAY_HOME": str(home)})
    paths.ensure()
    paths.user_config_file.write_text(json.dumps({"telemetry": {"postgres_url": value}}))
    return load_config(env={}, cwd=tmp_path, paths=paths).telemetry


def test_a_valid_url_loads_and_is_masked_when_shown(tmp_path: Path) -> None:
    url = "postgresql://dev:s3cret-pw@db.internal:5432/ledger?sslmode=require"
    settings = _load(tmp_path, url)
    assert settings.postgres_url == url
    assert settings.postgres_url_shown == "postgresql://dev:***@db.internal:5432/ledger?sslmode=require"
    assert "s3cret-pw" not in repr(settings)
    assert _load(tmp_path, "postgres://dev@db/ledger").postgres_url == "postgres://dev@db/ledger"
    assert _load(tmp_path, None).postgres_url is None
    assert TelemetrySettings().postgres_url is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("mysql://dev:s3cret-pw@db/ledger", "got mysql://"),
        ("postgresql://dev:s3cret-pw@/ledger", "no host"),
        ("postgresql://dev:s3cret-pw@db:99999/ledger", "port"),
        ("postgresql://dev:s3cret-pw@db:port/ledger", "port"),
        ("not a url s3cret-pw", "PostgreSQL URL"),
        ("", "PostgreSQL URL"),
        (5432, "PostgreSQL URL"),
    ],
)
def test_a_malformed_url_names_the_key_not_the_password(tmp_path: Path, value: object, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, value)
    message = str(caught.value)
    assert "telemetry.postgres_url" in message and why in message
    assert "s3cret-pw" not in message


def test_the_daemon_refuses_to_start_with_a_malformed_url(developers: Callable[..., Developer]) -> None:
    erin = developers("erin", {"telemetry": {"postgres_url": "postgresql://erin:s3cret-pw@h:0/x"}})
    out = erin.cli("start", "--port", "1")
    assert out.returncode != 0
    assert "telemetry.postgres_url" in out.stderr + out.stdout
    assert "s3cret-pw" not in out.stderr + out.stdout


def test_masking() -> None:
    assert mask_url_password("postgresql://u:p%40ss@h/d") == "postgresql://u:***@h/d"
    assert mask_url_password("postgresql://h/d?user=u&password=pw") == "postgresql://h/d?user=u&password=***"
    assert mask_url_password("postgresql://u@h/d") == "postgresql://u@h/d"


def test_schema_follows_the_event_columns(pg: PgServer, ledger_url: str) -> None:
    with psycopg.connect(ledger_url, autocommit=True) as conn:
        assert postgres_schema.apply(conn)[:2] == ["m001_events", "m002_indexes"]
        assert postgres_schema.apply(conn) == []  # nothing twice
        conn.execute(
            f"ALTER TABLE {postgres_schema.TABLE} DROP COLUMN prompt, DROP COLUMN cache_write_1h_tokens"
        )
        # A later column (as another migration of the event would add) comes back on the next start.
        assert postgres_schema.apply(conn) == ["column:cache_write_1h_tokens", "column:prompt"]
        cur = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (postgres_schema.TABLE,),
        )
        types = dict(cur.fetchall())
        names = [r[0] for r in conn.execute("SELECT name FROM gateway_migrations ORDER BY name").fetchall()]
    assert set(types) == {*COLUMNS, "machine", "user"}
    assert types["signals"] == "jsonb" and types["cost_usd"] == "double precision"
    assert types["input_tokens"] == "bigint" and types["user"] == "text"
    assert names == ["m001_events", "m002_indexes"]
