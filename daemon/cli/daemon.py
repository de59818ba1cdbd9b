"""``stackbilt-gw start | stop | status | logs``: the daemon commands.

Owns their arguments and wording. Process work is ``control.lifecycle``'s (``start --foreground``
hands this terminal to the daemon's own entry point, ``python -m stackbilt_gateway.daemon``), the
settings ``control.settings``', provider-key presence ``secrets.key_presence`` (never values).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..control.gatewaykey import load_or_create_gateway_key, read_gateway_key
from ..control.lifecycle import (
    DaemonStartFailed,
    PortInUse,
    check_port_free,
    find_daemon,
    health,
    run_foreground,
    start_background,
    stop,
)
from ..control.secrets import key_presence
from ..control.settings import ConfigError, graceful_timeout, load_settings
from .common import Context, Subparsers, fail


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("start", help="start the gateway daemon (in the background by default)")
    p.add_argument("--port", help="listen port (default 8787, or STACKBILT_GATEWAY_PORT)")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--foreground", action="store_true", help="run in this terminal until Ctrl-C")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for start-up")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("stop", help="stop the gateway daemon")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("status", help="is the daemon running; config, keys (never their values)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("logs", help="show the daemon log")
    p.add_argument("-n", "--lines", type=int, default=50, help="how many last lines (default 50)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    p.set_defaults(func=cmd_logs)


def cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    config = load_settings(ctx.env, ctx.paths, port=args.port, host=args.host)
    running = find_daemon(ctx.paths)
    if running is not None:
        print(f"the gateway is already running (pid {running.pid}) at {running.url}")
        return 0
    try:
        check_port_free(config.host, config.port)
    except PortInUse as exc:
        return fail(str(exc), 3)
    ctx.paths.ensure()
    _, key_source = load_or_create_gateway_key(ctx.paths, ctx.env)
    if args.foreground:
        return run_foreground(config, ctx.env)
    try:
        info = start_background(config, ctx.paths, timeout=args.timeout)
    except PortInUse as exc:
        return fail(str(exc), 3)
    except DaemonStartFailed as exc:
        return fail(str(exc), 1)
    print(f"gateway running at {info.url} (pid {info.pid})")
    print(f"gateway key: {key_source}; print it with `stackbilt-gw key`")
    print(f"log: {ctx.paths.log_file}")
    return 0


def cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    grace = graceful_timeout(ctx.env, ctx.paths)  # the default when the config is broken
    running = find_daemon(ctx.paths)
    if running is None:
        print("the gateway is not running")
        return 0
    print(f"stopping the gateway (pid {running.pid}); in-flight requests get up to {grace:g} s")
    stop(ctx.paths, timeout=grace + 10.0)
    print("stopped")
    return 0


def _status(ctx: Context) -> dict[str, Any]:
    running = find_daemon(ctx.paths)
    report: dict[str, Any] = {"running": running is not None}
    if running is not None:
        h = health(running.host, running.port)
        report.update(
            pid=running.pid,
            url=running.url,
            version=running.version,
            started_at=running.started_at,
            healthy=h is not None,
            mode=(h or {}).get("mode"),
        )
    try:
        config = load_settings(ctx.env, ctx.paths)
        report["config_sources"] = [str(p) for p in config.sources]
        report["config_error"] = None
        if running is None:
            report["url"] = f"http://{config.host}:{config.port}"
    except ConfigError as exc:
        report["config_sources"] = []
        report["config_error"] = str(exc)
    found = read_gateway_key(ctx.paths, ctx.env)
    report["gateway_key"] = found[1] if found else f"not created yet ({ctx.paths.gateway_key_file})"
    report["log_file"] = str(ctx.paths.log_file)
    report["provider_keys"] = key_presence(ctx.env, found[0] if found else "")
    return report


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    report = _status(ctx)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if report["running"]:
        mode = f", mode {report['mode']}" if report.get("mode") else ""
        state = "running" if report["healthy"] else "running but not answering /health"
        print(f"gateway: {state} (pid {report['pid']}) at {report['url']}{mode}")
    else:
        print(f"gateway: stopped (would listen at {report.get('url', '?')})")
    if report["config_error"]:
        print(f"config: ERROR {report['config_error']}")
    else:
        print("config: " + (", ".join(report["config_sources"]) or "defaults (no config files)"))
    print(f"gateway key: {report['gateway_key']} (print it with `stackbilt-gw key`)")
    print(f"log: {report['log_file']}")
    print("provider keys:")
    for name, where in report["provider_keys"].items():
        print(f"  {name:<12} {where}")
    return 0


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path``, reading backwards in blocks."""
    if count <= 0:
        return []
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - 65536)
            fh.seek(start)
            data = fh.read(end - start) + data
            end = start
    return data.decode("utf-8", "replace").splitlines()[-count:]


def follow(path: Path, *, poll: float = 0.25) -> None:
    """Print lines appended to ``path`` until interrupted (handles truncation)."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            chunk = fh.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
                continue
            if path.exists() and path.stat().st_size < fh.tell():
                fh.seek(0)  # the log was truncated
            time.sleep(poll)


def cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    path = ctx.paths.log_file
    if not path.is_file():
        return fail(f"no daemon log yet at {path} (it is written once `stackbilt-gw start` runs)", 1)
    for line in tail_lines(path, args.lines):
        print(line)
    if args.follow:
        sys.stdout.flush()
        try:
            follow(path)
        except KeyboardInterrupt:
            return 0
    return 0
