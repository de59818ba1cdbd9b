"""``stackbilt-gw init`` (piped stdin, real Secret Service) and ``stackbilt-gw doctor [--live]``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend

from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.control.secrets import SERVICE
from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream


def cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        env=env or dict(os.environ),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _needing_keys() -> list[str]:
    return [n for n, s in builtin_providers().items() if not s.key_optional and s.auth != "none"]


def test_init_stores_and_skips_per_provider(real_keyring: keyring.backend.KeyringBackend) -> None:
    names = _needing_keys()
    assert names[0] == "anthropic"
    lines = ["sk-ant-from-init", ""]  # anthropic stored, the next skipped, then EOF
    out = cli("init", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    assert "sk-ant-from-init" not in out.stdout + out.stderr
    assert "stored: Anthropic" in out.stdout and "end of input" in out.stdout
    assert real_keyring.get_password(SERVICE, "anthropic") == "sk-ant-from-init"
    assert real_keyring.get_password(SERVICE, names[1]) is None


def test_init_refuses_an_insecure_keyring() -> None:
    out = cli("init", stdin="sk-x\n")  # the fail backend is pinned for these tests
    assert out.returncode == 1 and "no secure keyring" in out.stderr


def test_doctor_lines_say_what_to_do(gw_paths: Paths, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "h")}
    out = cli("doctor", env=env)
    text = out.stdout
    assert out.returncode == 1, text  # no secure keyring and no keys: a FAIL line
    assert "[FAIL] keyring: no secure keyring" in text
    assert "[warn] provider keys: none configured → run `stackbilt-gw init`" in text
    assert "[warn] daemon: stopped → start it with `stackbilt-gw start`" in text
    assert "[ ok ] port:" in text and "is free" in text
    assert "[warn] client claude: Claude Code not found → npm install -g @anthropic-ai/claude-code" in text
    assert "start at login: disabled" in text
    assert "problem(s) found" in text


def test_doctor_live_round_trip(gw_paths: Paths, tmp_path: Path) -> None:
    fake = FakeUpstream().start()
    try:
        env = {
            **os.environ,
            "HOME": str(tmp_path / "h"),
            "STACKBILT_ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-upstream-key",
        }
        started = cli("start", env=env)
        assert started.returncode == 0, started.stderr
        out = cli("doctor", "--live", env=env)
        assert "[ ok ] daemon: running" in out.stdout, out.stdout
        assert "[ ok ] key anthropic: env (ANTHROPIC_API_KEY)" in out.stdout
        assert "[ ok ] live anthropic: claude-haiku-4-5 answered" in out.stdout, out.stdout
        assert fake.calls("/v1/messages")
    finally:
        fake.stop()
