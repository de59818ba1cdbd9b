"""``stackbilt-gw export --since 7d --format jsonl|csv [--output FILE]``: events for a governance
pipeline.

Reads the telemetry database directly (the daemon need not run), oldest first, with the
governance columns (client id, status — ``refused`` for a refusal, whose ``error_class`` is the
rule — and costs), redacted as stored. Owns only the arguments; the rows are ``governance.audit``'s.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any, TextIO

from ..control.settings import load_settings
from ..governance.audit import database, export_rows, write_export
from .common import Context, Subparsers, fail

_SINCE = re.compile(r"(\d{1,5})([dh])")


def parse_since(text: str, now: float | None = None) -> float:
    """``7d`` / ``12h`` / ``all`` / epoch seconds → a unix time."""
    now = time.time() if now is None else now
    if text == "all":
        return 0.0
    match = _SINCE.fullmatch(text)
    if match:
        return now - int(match.group(1)) * (86400 if match.group(2) == "d" else 3600)
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since must be <N>d, <N>h, all or epoch seconds, not {text!r}"
        ) from None


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="write events (refusals included) as JSON lines or CSV")
    p.add_argument("--since", default="7d", help="<N>d, <N>h, all or epoch seconds (default 7d)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--output", "-o", help="a file to write (default: stdout)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    try:
        since = parse_since(args.since)
    except argparse.ArgumentTypeError as exc:
        return fail(str(exc), 2)
    config = load_settings(ctx.env, ctx.paths)
    path = database(ctx.paths.data_dir, config.telemetry.db_path)
    rows = export_rows(path, since=since)
    out: TextIO | Any
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            n = write_export(rows, args.format, out)
    else:
        n = write_export(rows, args.format, sys.stdout)
    print(f"(exported {n} events from {path})", file=sys.stderr)
    return 0
