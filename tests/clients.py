"""Locating and running the real client binaries (installed by tests/run.sh from npm)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NPM_BIN = ROOT / ".cache" / "npm" / "node_modules" / ".bin"

QUIET_CLAUDE = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}


def client_binary(name: str) -> Path:
    path = NPM_BIN / name
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: run the suite with `bash tests/run.sh`, which installs the pinned "
            "Claude Code and Codex CLIs from npm into .cache/npm"
        )
    return path


@dataclass
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))

    def stream_events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip().startswith("{")]


def run_claude(
    prompt: str,
    *,
    base_url: str,
    home: Path,
    cwd: Path,
    model: str,
    env: dict[str, str],
    args: list[str] | None = None,
    output: str = "json",
    timeout: float = 120,
) -> ClaudeRun:
    home.mkdir(parents=True, exist_ok=True)
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        **QUIET_CLAUDE,
        **env,
    }
    cmd = [str(client_binary("claude")), "-p", prompt, "--model", model, "--output-format", output]
    if output == "stream-json":
        cmd += ["--verbose", "--include-partial-messages"]
    cmd += args or []
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return ClaudeRun(proc.returncode, proc.stdout, proc.stderr)


CODEX_CONFIG = """\
model = "{model}"
model_provider = "stackbilt"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.stackbilt]
name = "StackBilt gateway"
base_url = "{base_url}/v1"
env_key = "STACKBILT_GATEWAY_KEY"
wire_api = "responses"
request_max_retries = {retries}
stream_max_retries = {retries}
stream_idle_timeout_ms = 20000

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
apps = false
"""


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_message(self) -> str:
        return self.stdout.strip()


def run_codex(
    prompt: str,
    *,
    base_url: str,
    home: Path,
    cwd: Path,
    model: str,
    gateway_key: str,
    retries: int = 2,
    timeout: float = 120,
) -> CodexRun:
    """``codex exec`` against the gateway; CODEX_HOME and cwd must not be under /tmp (bwrap)."""
    codex_home = home / "codex-home"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        CODEX_CONFIG.format(model=model, base_url=base_url, retries=retries)
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "STACKBILT_GATEWAY_KEY": gateway_key,
        "RUST_LOG": "error",
        "NO_COLOR": "1",
    }
    cmd = [str(client_binary("codex")), "exec", "--skip-git-repo-check", "--color", "never", prompt]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return CodexRun(proc.returncode, proc.stdout, proc.stderr)
