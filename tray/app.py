"""``stackbilt-gw-tray`` / ``stackbilt-gw tray``: the tray process's entry point.

Owns start-up order: refuse without a graphical session (before importing pystray, which fails
without a display), take the single-instance lock, optionally start the daemon, then run the
pystray icon on the main thread with the supervisor polling beside it. Quit stops the icon and
exits 0, leaving the daemon serving. GUI imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..daemon.control.lock import AlreadyRunning, InstanceLock
from ..daemon.control.paths import Paths, resolve_paths
from ..daemon.control.platform import graphical_session
from .controller import APP_TITLE, TrayController, TrayState
from .icons import render_icon

log = logging.getLogger(__name__)
PROG = "stackbilt-gw-tray"


def tray_lock_path(paths: Paths) -> Path:
    """The single-instance lock file of the tray."""
    return paths.state_dir / "tray.lock"


def _notifier(holder: dict[str, Any]) -> Any:
    def notify(title: str, message: str) -> None:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)
        icon = holder.get("icon")
        if icon is None:
            return
        try:
            icon.notify(message, title)
        except Exception as exc:  # no notification server (headless, minimal desktops)
            log.debug("notification failed: %s", exc)

    return notify


def run(env: Mapping[str, str], *, start_daemon: bool = True, poll: float = 2.0) -> int:
    """Run the tray until Quit. Returns the process exit code."""
    problem = graphical_session(env)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 1
    paths = resolve_paths(dict(env))
    lock = InstanceLock(tray_lock_path(paths))
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"{PROG}: the tray is {exc}", file=sys.stderr)
        return 0
    try:
        import pystray
    except Exception as exc:  # pystray raises various errors when no backend can load
        print(f"{PROG}: cannot load a tray backend ({exc}); install the `desktop` extra", file=sys.stderr)
        lock.release()
        return 1

    from .menu import build_menu
    from .supervisor import Supervisor

    holder: dict[str, Any] = {}
    controller = TrayController(paths, env, notify=_notifier(holder))
    icon = pystray.Icon("stackbilt-gw", render_icon("stopped"), APP_TITLE, build_menu(pystray, controller))
    holder["icon"] = icon

    def on_change(state: TrayState) -> None:
        icon.icon = render_icon(state.icon_state)
        icon.title = f"{APP_TITLE} — {state.icon_state}"
        icon.update_menu()

    controller.on_change = on_change
    controller.on_quit = icon.stop
    supervisor = Supervisor(controller, poll)

    def setup(ic: Any) -> None:
        ic.visible = True
        controller.refresh()
        if start_daemon and not controller.state.running:
            controller.start_daemon()
        supervisor.start()
        print(f"{PROG}: ready", file=sys.stderr, flush=True)

    try:
        icon.run(setup=setup)
    except Exception as exc:  # GLib.Error from notification clean-up after a normal Quit
        if not type(exc).__module__.startswith("gi"):
            raise
        log.debug("ignored error after quit: %s", exc)
    finally:
        supervisor.stop()
        lock.release()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=f"{APP_TITLE}: system tray icon.")
    parser.add_argument(
        "--no-start-daemon", action="store_true", help="do not start the gateway when the tray starts"
    )
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between state refreshes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        return run(os.environ, start_daemon=not args.no_start_daemon, poll=args.poll)
    return 130


if __name__ == "__main__":
    sys.exit(main())
