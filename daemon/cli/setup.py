"""``stackbilt-gw init`` and ``stackbilt-gw doctor [--live]``: first-run set-up and a health report.

Owns the interactive key set-up (one provider at a time, Enter skips, works with piped stdin) and
the doctor's checks, each printed as one line that says what to do when it fails (``--live``: one
small real request through the running daemon per configured provider, Gemini and Vertex AI
included; for Vertex the daemon fetches an OAuth token first). Storage is
``control.secrets``', process state ``control.lifecycle``', settings ``control.settings``', the
provider list and model names ``control.providers``', start-up registration
``installer.autostart``'s. Never prints a key value.
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from ..control.gatewaykey import keys_equal, load_or_create_gateway_key, read_gateway_key
from ..control.lifecycle import PortInUse, check_port_free, connect_host, find_daemon, health, url_host
from ..control.providers import known_models, needs_key, provider_specs
from ..control.secrets import KeyringUnavailable, check_backend, key_presence, set_key
from ..control.settings import Config, ConfigError, load_settings
from .common import Context, Subparsers
from .launch import CLIENTS, find_client

Level = Literal["ok", "warn", "FAIL", "info"]
_MARK: dict[Level, str] = {"ok": "[ ok ]", "warn": "[warn]", "FAIL": "[FAIL]", "info": "[ -- ]"}
# Cheap models for the --live round trip; other providers use the first catalogue model.
_LIVE_MODELS = {
    "anthropic": "claude-haiku-4-5",
    "openai": "gpt-5-mini",
    "groq": "llama-3.1-8b-instant",
    "cerebras": "llama3.1-8b",
    "deepseek": "deepseek-chat",
    "gemini": "gemini-2.5-flash-lite",
    "vertex": "gemini-2.5-flash-lite",
}
# Where a service-account file is found when the config file names none (Vertex AI).
_GOOGLE_CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="set up provider keys in the OS keyring (Enter skips a provider)")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("doctor", help="check keyring, keys, port, daemon, start-up and clients")
    p.add_argument("--live", action="store_true", help="also make one real request per configured provider")
    p.set_defaults(func=cmd_doctor)


# --- init --------------------------------------------------------------------------------------


def _reader() -> Callable[[str], str | None]:
    """Prompt-and-read: hidden input on a terminal, one line of stdin otherwise (None at EOF)."""
    if sys.stdin.isatty():
        return lambda prompt: getpass.getpass(prompt)

    def read(prompt: str) -> str | None:
        print(prompt, end="", flush=True)
        line = sys.stdin.readline()
        print()
        return line if line else None

    return read


def cmd_init(args: argparse.Namespace, ctx: Context) -> int:
    print("StackBilt LLM Gateway set-up: provider keys go into the OS keyring (never a file).")
    try:
        check_backend()
    except KeyringUnavailable as exc:
        print(f"cannot store keys: {exc}", file=sys.stderr)
        return 1
    ctx.paths.ensure()
    gateway_key, source = load_or_create_gateway_key(ctx.paths, ctx.env)
    print(f"gateway key: {source} (clients use it; print it with `stackbilt-gw key`)")
    presence = key_presence(ctx.env, gateway_key)
    read = _reader()
    stored: list[str] = []
    for name, spec in provider_specs().items():
        if not needs_key(spec):
            continue
        have = presence.get(name, "not set")
        hint = "Enter keeps it" if have != "not set" else "Enter skips"
        raw = read(f"{spec.display_name} API key [{have}; {hint}]: ")
        if raw is None:
            print("(end of input: skipping the remaining providers)")
            break
        value = raw.strip()
        if not value:
            continue
        if keys_equal(value, gateway_key):
            print(f"  that is the gateway's own key, not a {spec.display_name} key; skipped")
            continue
        set_key(name, value)
        stored.append(spec.display_name)
        if spec.account_env and not ctx.env.get(spec.account_env):
            print(f"  note: {spec.display_name} also needs {spec.account_env} in the daemon's environment")
    print(f"stored: {', '.join(stored) if stored else 'nothing'}")
    print("next: `stackbilt-gw start`, then `stackbilt-gw claude` or `stackbilt-gw codex`;")
    print(
        "      `stackbilt-gw autostart enable` starts the tray at login; `stackbilt-gw doctor` checks it all"
    )
    return 0


# --- doctor ------------------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def line(self, level: Level, label: str, detail: str, fix: str = "") -> None:
        if level == "FAIL":
            self.failed += 1
        suffix = f" → {fix}" if fix and level in ("FAIL", "warn") else ""
        print(f"{_MARK[level]} {label}: {detail}{suffix}")


def _client_version(exe: str) -> str:
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"version unknown ({exc})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else f"version unknown (exit {out.returncode})"


def _live_bridge(r: Report, url: str, key: str) -> None:
    """The claude-cli bridge, as the daemon sees it (its binary found, ``--version`` answering);
    nothing when the bridge is not set up (no binary)."""
    req = urllib.request.Request(f"{url}/providers?live=1", headers={"x-api-key": key})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            bridge = json.loads(resp.read()).get("providers", {}).get("claude-cli")
    except (urllib.error.URLError, OSError, ValueError):
        return
    if not isinstance(bridge, dict) or not bridge.get("configured"):
        return
    probe = bridge.get("probe") or {}
    if probe.get("ok"):
        r.line("ok", "live claude-cli", f"{bridge.get('binary')} ({probe.get('version')})")
    else:
        r.line(
            "FAIL", "live claude-cli", f"{bridge.get('binary')} did not answer --version", "run `claude` once"
        )


def _live_check(r: Report, url: str, key: str, name: str) -> None:
    model = _LIVE_MODELS.get(name) or next(iter(known_models(name)), None)
    if model is None:
        r.line(
            "warn", f"live {name}", "no known model to try", f"try `stackbilt-gw claude --model {name}/MODEL`"
        )
        return
    wire_model = model if name == "anthropic" else f"{name}/{model}"
    body = {"model": wire_model, "max_tokens": 16, "messages": [{"role": "user", "content": "Reply OK."}]}
    req = urllib.request.Request(
        f"{url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.monotonic()
    try:
        with opener.open(req, timeout=90) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace")
        try:
            detail = json.loads(detail)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        r.line(
            "FAIL",
            f"live {name}",
            f"{wire_model}: HTTP {exc.code} {detail}",
            "check the key and `stackbilt-gw logs`",
        )
        return
    except (urllib.error.URLError, OSError) as exc:
        r.line("FAIL", f"live {name}", f"{wire_model}: {exc}", "is the daemon running? `stackbilt-gw status`")
        return
    r.line("ok", f"live {name}", f"{wire_model} answered in {time.monotonic() - started:.1f} s")


FD_HEADROOM = 256  # descriptors besides client connections: upstream sockets, databases, logs


def _fd_budget(r: Report, max_connections: int, pid: int | None) -> None:
    """The soft open-file limit (the running daemon's, else the one it would inherit from this
    shell) against ``max_connections`` plus headroom; a warning with the fix when it is short."""
    try:
        import resource
    except ImportError:  # Windows: no descriptor limit of this kind
        r.line("info", "file limit", "not applicable on this platform")
        return
    soft, whose = resource.getrlimit(resource.RLIMIT_NOFILE)[0], "this shell's (the daemon inherits it)"
    try:
        rows = Path(f"/proc/{pid}/limits").read_text(encoding="ascii").splitlines() if pid else []
        for row in rows:
            if row.startswith("Max open files"):
                value = row.split()[3]
                soft, whose = (resource.RLIM_INFINITY if value == "unlimited" else int(value)), "the daemon's"
    except (OSError, ValueError, IndexError):
        pass  # not Linux, or the daemon just exited: this shell's limit
    need = max_connections + FD_HEADROOM
    if soft == resource.RLIM_INFINITY or soft >= need:
        r.line(
            "ok",
            "file limit",
            f"{whose} soft limit {soft} ≥ {need} (max_connections {max_connections} + {FD_HEADROOM})",
        )
        return
    if sys.platform == "darwin":
        where = "SoftResourceLimits/NumberOfFiles in the launchd plist"
    else:
        where = f"LimitNOFILE={need} in the systemd unit"
    how = f"`ulimit -n {need}` before `stackbilt-gw start`, or {where}"
    r.line(
        "warn",
        "file limit",
        f"{whose} soft limit {soft} < {need} needed (max_connections {max_connections} + {FD_HEADROOM})",
        f"{how}; or lower max_connections to {max(1, soft - FD_HEADROOM)}",
    )


def _live_providers(configured: list[str], config: Config | None, env: Mapping[str, str]) -> list[str]:
    """The providers ``--live`` tries: those with a key, plus OAuth providers (Vertex AI) whose
    project, location and service-account file are set (the daemon fetches a token, then calls)."""
    names = list(configured)
    for name, spec in provider_specs().items():
        if spec.auth != "google-oauth" or name in names or config is None:
            continue
        settings = config.providers.get(name)
        if settings is None or not settings.enabled or not settings.project or not settings.location:
            continue
        if settings.credentials_file or env.get(_GOOGLE_CREDENTIALS_ENV, "").strip():
            names.append(name)
    return names


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    r = Report()
    found = read_gateway_key(ctx.paths, ctx.env)
    presence = key_presence(ctx.env, found[0] if found else "")
    env_keys = any(where.startswith("env") for where in presence.values())
    try:
        check_backend()
        import keyring

        backend = type(keyring.get_keyring())
        r.line("ok", "keyring", f"{backend.__module__}.{backend.__qualname__}")
    except KeyringUnavailable as exc:
        r.line(
            "warn" if env_keys else "FAIL", "keyring", str(exc), "keys from environment variables still work"
        )
    try:
        config = load_settings(ctx.env, ctx.paths)
        r.line("ok", "config", ", ".join(str(p) for p in config.sources) or "defaults (no config files)")
        if config.telemetry.postgres_url_shown:
            r.line("info", "team ledger", f"events also go to {config.telemetry.postgres_url_shown}")
    except ConfigError as exc:
        r.line("FAIL", "config", str(exc), "fix that file or setting")
        config = None
    if found:
        r.line("ok", "gateway key", found[1])
    else:
        r.line("info", "gateway key", "not created yet (created by `stackbilt-gw start` or `init`)")
    configured = [n for n, where in presence.items() if where.startswith(("env", "keyring"))]
    for name, where in presence.items():
        r.line("ok" if name in configured else "info", f"key {name}", where)
    if not configured:
        r.line(
            "warn",
            "provider keys",
            "none configured",
            "run `stackbilt-gw init` or set e.g. ANTHROPIC_API_KEY",
        )
    info = find_daemon(ctx.paths)
    url = None
    if info is not None:
        h = health(info.host, info.port)
        url = f"http://{url_host(connect_host(info.host))}:{info.port}"
        if h is None:
            r.line(
                "FAIL",
                "daemon",
                f"pid {info.pid} does not answer {url}/health",
                "see `stackbilt-gw logs`; restart it",
            )
        else:
            mode = f", mode {h['mode']}" if h.get("mode") else ""
            r.line("ok", "daemon", f"running (pid {info.pid}) at {url}{mode}")
            r.line("ok", "port", f"{info.port} (held by the gateway)")
            for reason in h.get("reasons") or []:
                if str(reason).startswith("team ledger"):
                    r.line("warn", "team ledger", str(reason), "check telemetry.postgres_url (docs/teams.md)")
    elif config is not None:
        r.line("warn", "daemon", "stopped", "start it with `stackbilt-gw start` (or the tray)")
        try:
            check_port_free(config.host, config.port)
            r.line("ok", "port", f"{config.port} on {config.host} is free")
        except PortInUse as exc:
            r.line("FAIL", "port", str(exc))
    if config is not None:
        _fd_budget(r, config.max_connections, info.pid if info is not None else None)
    from ...installer import autostart

    st = autostart.status(autostart.Target.current(ctx.env, ctx.paths))
    detail = "; ".join(st.lines())
    if st.enabled:
        r.line("ok", "start at login", detail)
    else:
        r.line("info", "start at login", f"disabled ({detail}); `stackbilt-gw autostart enable` turns it on")
    for name, (display, var, how) in CLIENTS.items():
        exe = find_client(name, ctx.env)
        if exe is None:
            r.line("warn", f"client {name}", f"{display} not found", f"{how}, or set {var}")
        else:
            r.line("ok", f"client {name}", f"{exe} ({_client_version(exe)})")
    if args.live:
        if url is None or not found:
            r.line(
                "FAIL", "live", "the daemon is not running", "start it with `stackbilt-gw start`, then retry"
            )
        else:
            for name in _live_providers(configured, config, ctx.env):
                _live_check(r, url, found[0], name)
            _live_bridge(r, url, found[0])
    print(f"{r.failed} problem(s) found" if r.failed else "all checks passed")
    return 1 if r.failed else 0
