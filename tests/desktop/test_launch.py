"""``stackbilt-gw claude|codex``: what the launched client receives, and one real Claude Code run.

Fake ``claude`` / ``codex`` scripts on PATH dump their argv and environment; the real pinned
Claude Code binary goes through a daemon the launcher started itself to the fake upstream.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.control.gatewaykey import read_gateway_key
from stackbilt_gateway.daemon.control.lifecycle import find_daemon
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import QUIET_CLAUDE, client_binary

Fakes = tuple[dict[str, str], Path, Path]
Run = subprocess.CompletedProcess[str]
DUMP = """#!{python}
import json, os, sys
with open(os.environ["DUMP_TO"], "w") as fh:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ)}}, fh)
"""


def _fake_client(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(DUMP.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _git_repo(cwd: Path, branch: str) -> None:
    subprocess.run(["git", "init", "-q", "-b", branch, str(cwd)], check=True, timeout=30)


def launch(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def fakes(tmp_path: Path, gw_paths: Paths) -> Iterator[Fakes]:
    """(env with fake clients first on PATH, dump file, a git repo with spaces in its path)."""
    bindir = tmp_path / "bin"
    _fake_client(bindir, "claude")
    _fake_client(bindir, "codex")
    repo = tmp_path / "my repo"
    repo.mkdir()
    _git_repo(repo, "feature/attr")
    dump = tmp_path / "dump.json"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "DUMP_TO": str(dump)}
    env["HOME"] = str(tmp_path / "home")
    yield env, dump, repo


def _read(dump: Path) -> dict[str, Any]:
    return dict(json.loads(dump.read_text()))


def test_claude_with_anthropic_key_gets_gateway_key(fakes: Fakes, gw_paths: Paths) -> None:
    env, dump, repo = fakes
    env["ANTHROPIC_API_KEY"] = "sk-ant-user-provider-key"
    out = launch("claude", "-p", "hi", "--output-format", "json", env=env, cwd=repo)
    assert out.returncode == 0, out.stderr
    info = find_daemon(gw_paths)
    assert info is not None, "the launcher starts the daemon"
    got = _read(dump)
    key = read_gateway_key(gw_paths, env)
    assert key is not None
    assert got["argv"] == ["-p", "hi", "--output-format", "json"]
    assert got["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{info.port}"
    assert got["env"]["ANTHROPIC_API_KEY"] == key[0]
    headers = got["env"]["ANTHROPIC_CUSTOM_HEADERS"].splitlines()
    assert f"x-stackbilt-repo: {repo}" in headers
    assert "x-stackbilt-branch: feature/attr" in headers
    assert not any(h.startswith("x-stackbilt-gateway-key") for h in headers)


def test_claude_subscription_mode_keeps_the_login(fakes: Fakes, gw_paths: Paths) -> None:
    env, dump, repo = fakes
    env.pop("ANTHROPIC_API_KEY", None)
    env["ANTHROPIC_CUSTOM_HEADERS"] = "x-team: blue"
    env["ANTHROPIC_AUTH_TOKEN"] = "user-oauth-token"
    out = launch("claude", "--version", env=env, cwd=repo)
    assert out.returncode == 0, out.stderr
    got = _read(dump)
    key = read_gateway_key(gw_paths, env)
    assert key is not None
    assert got["argv"] == ["--version"]
    assert "ANTHROPIC_API_KEY" not in got["env"]
    assert got["env"]["ANTHROPIC_AUTH_TOKEN"] == "user-oauth-token"
    headers = got["env"]["ANTHROPIC_CUSTOM_HEADERS"].splitlines()
    assert headers[0] == "x-team: blue"
    assert f"x-stackbilt-gateway-key: {key[0]}" in headers
    assert "x-stackbilt-branch: feature/attr" in headers


def test_codex_gets_a_custom_responses_provider(fakes: Fakes, gw_paths: Paths) -> None:
    env, dump, repo = fakes
    user_config = Path(env["HOME"]) / ".codex" / "config.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text('model = "gpt-5"\n')
    out = launch("codex", "exec", "--skip-git-repo-check", "hi", env=env, cwd=repo)
    assert out.returncode == 0, out.stderr
    info = find_daemon(gw_paths)
    key = read_gateway_key(gw_paths, env)
    assert info is not None and key is not None
    got = _read(dump)
    argv: list[str] = got["argv"]
    assert argv[-3:] == ["exec", "--skip-git-repo-check", "hi"]
    overrides = argv[:-3]
    assert overrides[0::2] == ["-c"] * (len(overrides) // 2)
    config: dict[str, Any] = {}
    for setting in overrides[1::2]:
        dotted, _, value = setting.partition("=")
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tomllib.loads(f"v = {value}")["v"]  # each value must be valid TOML
    provider = config["model_providers"]["stackbilt"]
    assert config["model_provider"] == "stackbilt"
    assert provider["base_url"] == f"http://127.0.0.1:{info.port}/v1"
    assert provider["wire_api"] == "responses"
    assert provider["env_key"] == "STACKBILT_GATEWAY_KEY"
    assert provider["http_headers"] == {"x-stackbilt-repo": str(repo), "x-stackbilt-branch": "feature/attr"}
    assert got["env"]["STACKBILT_GATEWAY_KEY"] == key[0]
    assert user_config.read_text() == 'model = "gpt-5"\n'  # the user's own config is untouched


def test_missing_client_exits_127(fakes: Fakes, tmp_path: Path) -> None:
    env, _, repo = fakes
    env["PATH"] = "/usr/bin:/bin"
    out = launch("codex", "exec", "x", env=env, cwd=repo)
    assert out.returncode == 127
    assert "Codex CLI (`codex`) was not found" in out.stderr and "STACKBILT_CODEX_BIN" in out.stderr
    env["STACKBILT_CLAUDE_BIN"] = str(tmp_path / "nope" / "claude")
    out = launch("claude", "-p", "x", env=env, cwd=repo)
    assert out.returncode == 127 and "is not an executable file" in out.stderr


@pytest.mark.e2e
def test_real_claude_through_a_daemon_the_launcher_started(tmp_path: Path, gw_paths: Paths) -> None:
    fake = FakeUpstream().start()
    try:
        work = tmp_path / "work"
        work.mkdir()
        _git_repo(work, "main")
        env = {
            **os.environ,
            **QUIET_CLAUDE,
            "HOME": str(tmp_path / "home"),
            "STACKBILT_CLAUDE_BIN": str(client_binary("claude")),
            "STACKBILT_ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-upstream-key",  # the daemon's Anthropic key (inherited)
        }
        assert find_daemon(gw_paths) is None
        out = launch("claude", "-p", "say hi", "--output-format", "json", env=env, cwd=work, timeout=150)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "started the gateway" in out.stderr
        result = json.loads(out.stdout)
        assert result["is_error"] is False and result["result"].startswith("FAKE_REPLY")
        calls = fake.calls("/v1/messages")
        assert calls, "the turn reached the fake upstream"
        assert all(c.headers.get("x-api-key") == "sk-ant-fake-upstream-key" for c in calls)
        assert not any(k.lower().startswith("x-stackbilt-") for c in calls for k in c.headers)
    finally:
        fake.stop()
