"""``stackbilt-gw tray | dashboard | autostart enable|disable|status``: the desktop commands.

Owns their arguments and wording. The tray is ``tray.app``, the window ``webui.window``, start-up
registration ``installer.autostart`` (the same code the tray's "Start at login" uses). GUI modules
are imported only when their command runs, so a headless install never loads a toolkit.
"""

from __future__ import annotations

import argparse
import sys

from ...installer import autostart
from .common import Context, Subparsers, fail


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("tray", help="run the system tray icon (needs a graphical session)")
    p.add_argument("--no-start-daemon", action="store_true", help="do not start the gateway with the tray")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between state refreshes")
    p.set_defaults(func=cmd_tray)

    p = sub.add_parser("dashboard", help="open the dashboard window (needs a graphical session)")
    p.add_argument(
        "--browser",
        action="store_true",
        help="open it in the default web browser instead (prints the one-time link: works once, for 60 s)",
    )
    p.set_defaults(func=cmd_dashboard)

    auto = sub.add_parser("autostart", help="start the tray at login (and optionally the daemon)")
    asub = auto.add_subparsers(dest="autostart_command", metavar="ACTION", required=True)
    p = asub.add_parser("enable", help="register login start-up (idempotent)")
    p.add_argument(
        "--systemd", action="store_true", help="Linux: also install a systemd --user unit for the daemon"
    )
    p.set_defaults(func=cmd_autostart_enable)
    p = asub.add_parser("disable", help="remove login start-up (idempotent)")
    p.set_defaults(func=cmd_autostart_disable)
    p = asub.add_parser("status", help="is login start-up registered")
    p.set_defaults(func=cmd_autostart_status)


def cmd_tray(args: argparse.Namespace, ctx: Context) -> int:
    from ...tray.app import run

    return run(ctx.env, start_daemon=not args.no_start_daemon, poll=args.poll)


def cmd_dashboard(args: argparse.Namespace, ctx: Context) -> int:
    if args.browser:
        return _dashboard_in_browser(ctx)
    from ...webui.window import run

    return run(ctx.env)


def _dashboard_in_browser(ctx: Context) -> int:
    """Ask the daemon for a one-time session link (with the gateway key), print it, open it."""
    import webbrowser

    from ..control.api_client import ApiError, DaemonApi, NotAvailable
    from ..control.gatewaykey import read_gateway_key
    from ..control.lifecycle import find_daemon

    info = find_daemon(ctx.paths)
    if info is None:
        return fail("the gateway is not running; start it with `stackbilt-gw start`")
    found = read_gateway_key(ctx.paths, ctx.env)
    try:
        url, is_dashboard = DaemonApi(info.host, info.port, found[0] if found else "").dashboard_url()
    except (ApiError, NotAvailable) as exc:
        return fail(str(exc))
    if not is_dashboard:
        return fail("this daemon has no dashboard; restart it with `stackbilt-gw stop && stackbilt-gw start`")
    print(url)
    print("(a one-time link: it works once, for 60 seconds)", file=sys.stderr)
    if not webbrowser.open(url):
        print("no web browser found here: open the link above yourself", file=sys.stderr)
    return 0


def _target(ctx: Context) -> autostart.Target:
    return autostart.Target.current(ctx.env, ctx.paths)


def cmd_autostart_enable(args: argparse.Namespace, ctx: Context) -> int:
    target = _target(ctx)
    for line in autostart.enable(target, systemd=args.systemd):
        print(line)
    return 0


def cmd_autostart_disable(args: argparse.Namespace, ctx: Context) -> int:
    target = _target(ctx)
    for line in autostart.disable(target):
        print(line)
    return 0


def cmd_autostart_status(args: argparse.Namespace, ctx: Context) -> int:
    target = _target(ctx)
    st = autostart.status(target)
    print(f"start at login: {'enabled' if st.enabled else 'disabled'}")
    for line in st.lines():
        print(f"  {line}")
    if not sys.platform.startswith(("linux", "darwin", "win32")):
        print("  (this OS has no supported start-up mechanism; the XDG entry is used)")
    return 0
