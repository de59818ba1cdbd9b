"""``stackbilt-gw backtest [--since 7d] [--config FILE | --routes JSON]``: what a route table
would have cost on the recorded sessions.

Asks the running daemon (``POST /backtest`` through ``control.api_client``) to replay its recorded
events through a route table with the prompt-cache model, and prints actual vs simulated spend,
savings and moves per route class and per session, then the moves refused with their reasons.
The table: the ``routes`` object of a config file (``--config``), a JSON object (``--routes``),
or the daemon's own; its classes replace the daemon's, whole. Owns the arguments and the
wording; the replay is the daemon's (``routing.backtest``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..control.api_client import ApiError, DaemonApi, NotAvailable
from ..control.gatewaykey import read_gateway_key
from ..control.lifecycle import find_daemon
from .common import Context, Subparsers, fail

# A replay over weeks of events may take a while on the daemon's side.
TIMEOUT_S = 300.0
LISTED_REFUSALS = 20


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("backtest", help="replay recorded sessions through a route table (spend, savings)")
    p.add_argument("--since", default="7d", help="today, all, <N>d or epoch seconds (default: 7d)")
    table = p.add_mutually_exclusive_group()
    table.add_argument("--config", type=Path, metavar="FILE", help="a config file whose routes to test")
    table.add_argument("--routes", metavar="JSON", help='a route table, e.g. \'{"summary": ["p/model"]}\'')
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_backtest)


def _routes(args: argparse.Namespace) -> dict[str, list[str]] | None:
    """The route table to send (None: the daemon's own). Raises ValueError with a message."""
    if args.routes is not None:
        source, text = "--routes", args.routes
    elif args.config is not None:
        source = str(args.config)
        try:
            text = args.config.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    else:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{source} is not JSON: {exc}") from None
    if args.config is not None:
        data = data.get("routes", {}) if isinstance(data, dict) else None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in data.values()
    ):
        raise ValueError(f'{source}: routes must be an object like {{"summary": ["provider/model"]}}')
    return data


def _money(value: object) -> str:
    return f"{value:>11.4f}" if isinstance(value, int | float) else f"{'-':>11}"


def _table(title: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    header = (
        f"{title:<28}{'requests':>9}{'actual $':>11}{'simulated $':>12}{'savings $':>11}"
        f"{'moved':>7}{'refused':>8}"
    )
    lines = [header, "-" * len(header)]
    for key, row in rows.items():
        lines.append(
            f"{key[:27]:<28}{row.get('requests', 0):>9}{_money(row.get('actual_usd'))}"
            f" {_money(row.get('simulated_usd'))}{_money(row.get('savings_usd'))}"
            f"{row.get('moves_taken', 0):>7}{row.get('moves_refused', 0):>8}"
        )
    if not rows:
        lines.append("(no recorded requests)")
    return lines


def render(report: dict[str, Any]) -> str:
    """The report as text: totals, per class, per session, the first refusals."""
    totals = report.get("totals", {})
    out = _table("all requests", {"total": totals})
    out += ["", *_table("by route class", report.get("by_class", {}))]
    out += ["", *_table("by session", report.get("by_session", {}))]
    refused = report.get("moves_refused", [])
    if refused:
        out += ["", "moves refused (rule: reasons)"]
        for move in refused[:LISTED_REFUSALS]:
            reasons = "; ".join(move.get("reasons", []))
            out.append(f"  {move.get('route_class')} ({move.get('rule')}): {reasons}")
        if totals.get("moves_refused", 0) > LISTED_REFUSALS:
            out.append(f"  … {totals['moves_refused'] - LISTED_REFUSALS} more (--json lists up to 200)")
    notes = [f"{report.get('skipped', 0)} not replayed (errors, response-cache hits)"]
    if totals.get("unpriced"):
        notes.append(f"{totals['unpriced']} unpriced (left out of the sums)")
    out += ["", "; ".join(notes)]
    return "\n".join(out)


def cmd_backtest(args: argparse.Namespace, ctx: Context) -> int:
    try:
        routes = _routes(args)
    except ValueError as exc:
        return fail(str(exc), 2)
    info = find_daemon(ctx.paths)
    if info is None:
        return fail("the gateway is not running; start it with `stackbilt-gw start`")
    found = read_gateway_key(ctx.paths, ctx.env)
    api = DaemonApi(info.host, info.port, found[0] if found else "", timeout=TIMEOUT_S)
    try:
        report = api.backtest(args.since, routes)
    except NotAvailable:
        return fail("this gateway has no backtest; restart it after upgrading")
    except ApiError as exc:
        return fail(f"the backtest failed: {exc}")
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0
