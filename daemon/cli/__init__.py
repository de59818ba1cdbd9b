"""``stackbilt-gw`` (alias ``stackbilt-llm-gateway``): the command-line entry point.

Owns the argument parser, dispatch to subcommand modules, the ``key`` command, and turning
expected failures into one-line messages with stable exit codes (never a traceback):

    0 ok · 1 failure · 2 usage or configuration error · 3 port taken by another process ·
    130 interrupted

Each subcommand module (``cli.daemon``: start/stop/status/logs, ``cli.keys``, ``cli.desktop``,
``cli.launch``: claude/codex, ``cli.setup``: init/doctor, ``cli.control``: mode/stats,
``cli.backtest``, ``cli.compact``, ``cli.demo``, ``cli.clients``, ``cli.export``) registers with
``add_parsers(subparsers)`` listed in ``_COMMAND_MODULES``. The CLI runs outside the daemon: it
reaches it only through ``daemon.control`` (``cli.demo``, which embeds a gateway, is the one exception;
``cli.clients`` and ``cli.export`` read governance's clients file and events directly).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..control.gatewaykey import load_or_create_gateway_key
from ..control.secrets import KeyringUnavailable
from ..control.settings import ConfigError
from . import backtest, clients, compact, control, daemon, demo, desktop, explain, export, keys, launch, setup
from .common import PROG, Context, Subparsers, fail


def _add_key_parser(sub: Subparsers) -> None:
    p = sub.add_parser("key", help="print the gateway key clients use (and where it comes from)")
    p.set_defaults(func=cmd_key)


def cmd_key(args: argparse.Namespace, ctx: Context) -> int:
    key, source = load_or_create_gateway_key(ctx.paths, ctx.env)
    print(key)
    print(f"(gateway key from {source})", file=sys.stderr)
    return 0


_COMMAND_MODULES: Sequence[Callable[[Subparsers], None]] = (
    daemon.add_parsers,
    _add_key_parser,
    keys.add_parsers,
    desktop.add_parsers,
    launch.add_parsers,
    setup.add_parsers,
    control.add_parsers,
    backtest.add_parsers,
    explain.add_parsers,
    compact.add_parsers,
    demo.add_parsers,
    clients.add_parsers,
    export.add_parsers,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="StackBilt LLM Gateway: a local gateway for AI coding agents.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMAND_MODULES:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    ctx = Context.from_env(os.environ)
    try:
        code: int = args.func(args, ctx)
    except ConfigError as exc:
        return fail(f"configuration error: {exc}", 2)
    except KeyringUnavailable as exc:
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
