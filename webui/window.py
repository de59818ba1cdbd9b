"""``stackbilt-gw dashboard`` / ``stackbilt-gw-dashboard``: the dashboard in a native window.

Owns the window process: one at a time (an OS file lock), the session hand-off (the process asks
the daemon for a one-time ``/ui/?token=…`` URL with the gateway key itself, so no secret travels
on a command line), and the pywebview window (GTK/WebKit on Linux, Qt with the ``qt`` extra).
``launch`` starts it as a separate process — pywebview, like pystray, wants the main thread.
Until the daemon offers ``POST /control/session`` the window shows its ``/health`` page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from ..daemon.control.api_client import ApiError, DaemonApi
from ..daemon.control.gatewaykey import read_gateway_key
from ..daemon.control.lifecycle import find_daemon
from ..daemon.control.lock import AlreadyRunning, InstanceLock, is_locked
from ..daemon.control.paths import Paths, resolve_paths
from ..daemon.control.platform import graphical_session

PROG = "stackbilt-gw-dashboard"
WINDOW_MODULE = "stackbilt_gateway.webui.window"
TITLE = "StackBilt LLM Gateway — Dashboard"
_STARTED: list[subprocess.Popen[bytes]] = []


def window_lock_path(paths: Paths) -> Path:
    """The single-instance lock file of the dashboard window."""
    return paths.state_dir / "dashboard.lock"


def launch(paths: Paths, env: Mapping[str, str]) -> str:
    """Start the window process unless one is open; says which happened."""
    if is_locked(window_lock_path(paths)):
        return "already open"
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW
    else:
        kwargs["start_new_session"] = True
    paths.ensure()
    with (paths.log_dir / "dashboard.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", WINDOW_MODULE],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            **kwargs,
        )
    _STARTED.append(proc)
    return f"started (pid {proc.pid})"


def dashboard_url(paths: Paths, env: Mapping[str, str]) -> str:
    """The URL to show: a one-time-token UI URL (or /health on older daemons)."""
    info = find_daemon(paths)
    if info is None:
        raise ApiError("the gateway is not running; start it with `stackbilt-gw start`")
    found = read_gateway_key(paths, env)
    api = DaemonApi(info.host, info.port, found[0] if found else "")
    url, _ = api.dashboard_url()
    return url


def _gui(env: Mapping[str, str]) -> str | None:
    """The pywebview GUI to ask for: STACKBILT_WEBVIEW_GUI, else GTK on Linux, else the default."""
    choice = env.get("STACKBILT_WEBVIEW_GUI", "").strip()
    if choice:
        return choice
    return "gtk" if sys.platform.startswith("linux") else None


def run(env: Mapping[str, str]) -> int:
    problem = graphical_session(env)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 1
    paths = resolve_paths(dict(env))
    lock = InstanceLock(window_lock_path(paths))
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"{PROG}: the dashboard window is {exc}", file=sys.stderr)
        return 0
    try:
        try:
            url = dashboard_url(paths, env)
        except ApiError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 1
        try:
            import webview
        except ImportError as exc:
            print(f"{PROG}: pywebview is missing ({exc}); install the `desktop` extra", file=sys.stderr)
            return 1
        webview.create_window(TITLE, url, width=1100, height=760, min_size=(640, 480))
        try:
            webview.start(gui=cast(Any, _gui(env)), private_mode=True)
        except Exception as exc:  # no usable toolkit (WebKitGTK / Qt missing)
            print(f"{PROG}: cannot open a web view ({exc}); see DESKTOP notes in the README", file=sys.stderr)
            return 1
        return 0
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=TITLE)
    parser.parse_args(argv)
    return run(os.environ)


if __name__ == "__main__":
    sys.exit(main())
