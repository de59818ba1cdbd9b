"""``stackbilt-gw claude [args…]`` / ``stackbilt-gw codex [args…]``: run a coding agent through the gateway.

Owns finding the client binary (``STACKBILT_CLAUDE_BIN`` / ``STACKBILT_CODEX_BIN``, else ``PATH``),
starting the daemon when it is not running, and the environment and arguments each client needs:

- Claude Code: ``ANTHROPIC_BASE_URL``; the gateway key as ``ANTHROPIC_API_KEY`` when the gateway has
  an Anthropic key, otherwise subscription mode — the user's own login is left alone and the
  gateway key travels in ``ANTHROPIC_CUSTOM_HEADERS`` (``x-stackbilt-gateway-key``).
- Codex: ``-c`` overrides defining the ``stackbilt`` provider (``wire_api = "responses"``,
  ``env_key = "STACKBILT_GATEWAY_KEY"``) and selecting it; the user's ``~/.codex/config.toml`` is
  never touched.

Both get attribution headers (``x-stackbilt-repo``, ``x-stackbilt-branch``) from git in the
working directory. The client then replaces this process (``exec``; a child process on Windows).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from ..control.gatewaykey import ENV_GATEWAY_KEY, load_or_create_gateway_key
from ..control.lifecycle import (
    DaemonInfo,
    DaemonStartFailed,
    PortInUse,
    connect_host,
    find_daemon,
    start_background,
    url_host,
)
from ..control.secrets import key_presence
from ..control.settings import load_settings
from .common import Context, Subparsers, fail

EXIT_NOT_FOUND = 127
CLIENTS = {
    "claude": ("Claude Code", "STACKBILT_CLAUDE_BIN", "npm install -g @anthropic-ai/claude-code"),
    "codex": ("Codex CLI", "STACKBILT_CODEX_BIN", "npm install -g @openai/codex"),
}
GATEWAY_HEADER = "x-stackbilt-gateway-key"
PROVIDER_ID = "stackbilt"


def add_parsers(sub: Subparsers) -> None:
    for name, (display, _, _) in CLIENTS.items():
        p = sub.add_parser(
            name,
            help=f"run {display} through the gateway (starts the daemon if needed)",
            description=f"Run {display} through the gateway; every further argument goes to {name}.",
            add_help=False,
            prefix_chars="\x00",  # every argument, "-p" and "--help" included, belongs to the client
        )
        p.add_argument("client_args", nargs=argparse.REMAINDER)
        p.set_defaults(func=cmd_launch, client=name)


def find_client(name: str, env: Mapping[str, str]) -> str | None:
    """The client's executable: the override variable, else a PATH lookup."""
    _, var, _ = CLIENTS[name]
    override = env.get(var, "").strip()
    if override:
        path = Path(override).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(name, path=env.get("PATH"))


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


def _header_value(text: str) -> str:
    """Header-safe text: printable ASCII kept, anything else percent-encoded."""
    return quote(text, safe="/\\:@ ~._-+=,()[]{}!$&'*;#")


def attribution_headers(cwd: Path) -> dict[str, str]:
    """``x-stackbilt-repo`` (repository root, or the folder) and ``x-stackbilt-branch`` (when in git)."""
    root = _git(cwd, "rev-parse", "--show-toplevel")
    headers = {"x-stackbilt-repo": _header_value(root or str(cwd))}
    # The branch (also on a fresh repo without commits), else the detached commit.
    branch = (
        (_git(cwd, "symbolic-ref", "--short", "-q", "HEAD") or _git(cwd, "rev-parse", "--short", "HEAD"))
        if root
        else None
    )
    if branch:
        headers["x-stackbilt-branch"] = _header_value(branch)
    return headers


def merge_custom_headers(existing: str, extra: Mapping[str, str]) -> str:
    """Add ``extra`` to an ``ANTHROPIC_CUSTOM_HEADERS`` value (one ``Name: value`` per line)."""
    names = {k.lower() for k in extra}
    kept = [
        line
        for line in existing.splitlines()
        if line.strip() and line.split(":", 1)[0].strip().lower() not in names
    ]
    return "\n".join([*kept, *(f"{k}: {v}" for k, v in extra.items())])


def claude_env(
    env: Mapping[str, str], url: str, key: str, headers: Mapping[str, str], *, has_anthropic_key: bool
) -> dict[str, str]:
    """The environment Claude Code runs with."""
    out = dict(env)
    out["ANTHROPIC_BASE_URL"] = url
    extra = dict(headers)
    if has_anthropic_key:
        out["ANTHROPIC_API_KEY"] = key
        out.pop("ANTHROPIC_AUTH_TOKEN", None)
    else:  # subscription: keep the user's login, authenticate to the gateway by header
        extra = {GATEWAY_HEADER: key, **extra}
    out["ANTHROPIC_CUSTOM_HEADERS"] = merge_custom_headers(env.get("ANTHROPIC_CUSTOM_HEADERS", ""), extra)
    return out


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def codex_overrides(url: str, headers: Mapping[str, str]) -> list[str]:
    """``-c`` arguments that define and select the gateway provider for this run only."""
    table = "{" + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in headers.items()) + "}"
    prefix = f"model_providers.{PROVIDER_ID}"
    settings = [
        f"{prefix}.name={_toml('StackBilt LLM Gateway')}",
        f"{prefix}.base_url={_toml(url + '/v1')}",
        f"{prefix}.env_key={_toml(ENV_GATEWAY_KEY)}",
        f"{prefix}.wire_api={_toml('responses')}",
        f"{prefix}.http_headers={table}",
        f"model_provider={_toml(PROVIDER_ID)}",
    ]
    return [arg for setting in settings for arg in ("-c", setting)]


def ensure_daemon(ctx: Context) -> DaemonInfo:
    """The running daemon, started in the background first when needed."""
    info = find_daemon(ctx.paths)
    if info is not None:
        return info
    config = load_settings(ctx.env, ctx.paths)
    ctx.paths.ensure()
    load_or_create_gateway_key(ctx.paths, ctx.env)
    info = start_background(config, ctx.paths)
    print(f"stackbilt-gw: started the gateway at {info.url} (pid {info.pid})", file=sys.stderr)
    return info


def _exec(argv: Sequence[str], env: Mapping[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # exec on Windows does not replace the console process
        return subprocess.run(list(argv), env=dict(env), check=False).returncode
    os.execve(argv[0], list(argv), dict(env))
    return 0  # not reached


def cmd_launch(args: argparse.Namespace, ctx: Context) -> int:
    name: str = args.client
    display, var, how = CLIENTS[name]
    exe = find_client(name, ctx.env)
    if exe is None:
        where = f"{var}={ctx.env[var]!r} is not an executable file" if ctx.env.get(var) else "not on PATH"
        return fail(f"{display} (`{name}`) was not found ({where}); install it ({how}) or set {var}", 127)
    try:
        info = ensure_daemon(ctx)
    except PortInUse as exc:
        return fail(str(exc), 3)
    except DaemonStartFailed as exc:
        return fail(str(exc), 1)
    key, _ = load_or_create_gateway_key(ctx.paths, ctx.env)
    url = f"http://{url_host(connect_host(info.host))}:{info.port}"
    headers = attribution_headers(Path.cwd())
    client_args = list(args.client_args)
    if client_args[:1] == ["--"]:
        client_args = client_args[1:]
    if name == "claude":
        quiet = logging.getLogger(key_presence.__module__)
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # a headless keyring is not this command's business
        try:
            where = key_presence(ctx.env, key).get("anthropic", "not set")
        finally:
            quiet.setLevel(level)
        has_key = where.startswith(("env", "keyring"))
        env = claude_env(ctx.env, url, key, headers, has_anthropic_key=has_key)
        return _exec([exe, *client_args], env)
    env = {**ctx.env, ENV_GATEWAY_KEY: key}
    return _exec([exe, *codex_overrides(url, headers), *client_args], env)
