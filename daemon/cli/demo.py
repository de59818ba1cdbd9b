"""``stackbilt-gw demo``: try the gateway and its dashboard with simulated providers, no keys.

Owns the command's arguments and wording; the work is ``demo.runner``'s. The one CLI command that
is the daemon rather than a client of it (it embeds a real gateway in-process), so the one CLI
module that imports the daemon beyond ``control`` (a documented exception in the import contract).
"""

from __future__ import annotations

import argparse
import sys

from .common import Context, Subparsers


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="run a throwaway gateway with simulated providers and open its dashboard (no keys needed)",
    )
    p.add_argument("--no-open", action="store_true", help="print the dashboard link instead of opening it")
    p.add_argument("--port", type=int, help="listen port (default: a free one)")
    p.add_argument(
        "--trickle",
        type=float,
        default=4.0,
        help="seconds between simulated turns after the replay (default 4)",
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from ..demo.runner import run_demo

    def say(line: str) -> None:
        print(line, flush=True)

    if args.trickle <= 0:
        print("stackbilt-gw: --trickle must be positive", file=sys.stderr)
        return 2
    return run_demo(open_dashboard=not args.no_open, port=args.port, trickle=args.trickle, say=say)
