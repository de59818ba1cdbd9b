"""``installer/install.sh --team-config URL|FILE``: the team's settings land in the user's config
file (merged with what is there, private: mode 600), validated as the daemon validates them; a
bad value is refused with the key named and leaves the file as it was. Runs the real script
against this checkout's virtual environment (``--skip-install``), with a throwaway home."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import resolve_paths

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "installer" / "install.sh"
VENV = Path(sys.prefix)
URL = "postgresql://dev:team-s3cret@db.example:5432/ledger"


def install(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STACKBILT_GATEWAY_HOME": str(home), "HOME": str(home)}
    return subprocess.run(
        ["bash", str(SCRIPT), "--skip-install", "--venv", str(VENV), "--bin-dir", str(home / "bin"),
         "--no-autostart", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def config_file(home: Path) -> Path:
    return resolve_paths({"STACKBILT_GATEWAY_HOME": str(home)}).user_config_file


def test_a_postgres_url_is_written_privately_and_merged(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = config_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"port": 9911, "telemetry": {"retention_days": 30}}))
    out = install(home, "--team-config", URL)
    assert out.returncode == 0, out.stderr
    assert "team: postgresql://dev:***@db.example:5432/ledger written to" in out.stdout
    assert "team-s3cret" not in out.stdout + out.stderr
    assert json.loads(path.read_text()) == {
        "port": 9911,
        "telemetry": {"retention_days": 30, "postgres_url": URL},
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    paths = resolve_paths({"STACKBILT_GATEWAY_HOME": str(home)})
    assert load_config(env={}, cwd=tmp_path, paths=paths).telemetry.postgres_url == URL


def test_a_settings_file_and_a_collector(tmp_path: Path) -> None:
    home = tmp_path / "home"
    team = tmp_path / "team.json"
    team.write_text(
        json.dumps({"telemetry": {"postgres_url": URL, "otlp": {"endpoint": "http://127.0.0.1:4318"}}})
    )
    assert install(home, "--team-config", str(team)).returncode == 0
    assert json.loads(config_file(home).read_text())["telemetry"]["otlp"] == {
        "endpoint": "http://127.0.0.1:4318"
    }
    other = tmp_path / "home2"
    out = install(other, "--team-config", "https://collector.example:4318")
    assert out.returncode == 0, out.stderr
    assert json.loads(config_file(other).read_text()) == {
        "telemetry": {"otlp": {"endpoint": "https://collector.example:4318"}}
    }


def test_bad_team_settings_are_refused_and_change_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = config_file(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"port": 9911}')
    out = install(home, "--team-config", "postgresql://dev:team-s3cret@db.example:99999/ledger")
    assert out.returncode != 0
    assert "telemetry.postgres_url" in out.stderr and "team-s3cret" not in out.stderr
    assert path.read_text() == '{"port": 9911}'
    missing = install(home, "--team-config", str(tmp_path / "nope.json"))
    assert (
        missing.returncode != 0
        and "neither a postgresql:// or http(s):// URL nor a readable file" in missing.stderr
    )
    dry = install(home, "--team-config", URL, "--dry-run")
    assert dry.returncode == 0 and "team settings" in dry.stdout and path.read_text() == '{"port": 9911}'
