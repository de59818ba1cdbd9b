"""``stackbilt-gw mode [shadow|live]`` and ``stackbilt-gw stats``: talking to the running daemon.

``mode`` switches routing at runtime (or, with no daemon running, saves the mode for its next
start). ``stats`` prints today's and this week's requests, tokens (cache columns included),
spend and savings by model and by route class; ``stats --team`` prints the shared team ledger's
report (``GET /team``: spend per person, repository, model and day, routes, refusals and errors,
and this daemon's shipping to it).

Owns their arguments and wording; the calls are ``control.api_client``'s, the saved mode
``control.mode``'s.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..control.api_client import ApiError, DaemonApi, NotAvailable
from ..control.gatewaykey import read_gateway_key
from ..control.lifecycle import find_daemon
from ..control.mode import ModeStore, parse_mode
from .common import Context, Subparsers, fail
from .team import print_team


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("mode", help="show or switch the routing mode (shadow records, live routes)")
    p.add_argument("mode", nargs="?", choices=("shadow", "live"), help="the mode to switch to")
    p.set_defaults(func=cmd_mode)
    p = sub.add_parser("stats", help="requests, tokens, spend and savings (today and this week)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--team", action="store_true", help="every developer's events, from the shared PostgreSQL ledger"
    )
    p.add_argument("--since", default="7d", help="with --team: today, 7d, 30d, all or <N>d (default: 7d)")
    p.set_defaults(func=cmd_stats)


def _api(ctx: Context, *, timeout: float = 3.0) -> DaemonApi | None:
    info = find_daemon(ctx.paths)
    if info is None:
        return None
    found = read_gateway_key(ctx.paths, ctx.env)
    return DaemonApi(info.host, info.port, found[0] if found else "", timeout=timeout)


def cmd_mode(args: argparse.Namespace, ctx: Context) -> int:
    api = _api(ctx)
    store = ModeStore(ctx.paths.state_dir / "mode.json")
    if api is None:
        if args.mode is None:
            print(f"{store.mode} (the gateway is not running)")
            return 0
        store.set(parse_mode(args.mode))
        print(f"{args.mode} (saved; the gateway uses it when it starts)")
        return 0
    try:
        if args.mode is None:
            print(api.get_mode() or "unknown")
            return 0
        print(api.set_mode(parse_mode(args.mode)))
    except (ApiError, NotAvailable) as exc:
        return fail(f"could not switch the mode: {exc}")
    return 0


COLUMNS = (
    ("requests", "requests", "{:>8}"),
    ("input_tokens", "input", "{:>10}"),
    ("cache_read_tokens", "cache read", "{:>11}"),
    ("cache_write_tokens", "cache write", "{:>12}"),
    ("output_tokens", "output", "{:>9}"),
    ("cost_usd", "spend $", "{:>10.4f}"),
    # Projected (shadow) and realised (live) savings are never summed; negative: routing cost more.
    ("savings_projected_usd", "projected $", "{:>12.4f}"),
    ("savings_realised_usd", "realised $", "{:>11.4f}"),
)


def _table(title: str, rows: list[dict[str, Any]]) -> list[str]:
    header = f"{title:<32}" + "".join(f"{label:>{len(fmt.format(0))}}" for _, label, fmt in COLUMNS)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = "".join(fmt.format(row.get(key) or 0) for key, _, fmt in COLUMNS)
        lines.append(f"{str(row.get('key', 'total'))[:31]:<32}{cells}")
    if not rows:
        lines.append("(no requests yet)")
    return lines


def _verdict(totals: dict[str, Any]) -> list[str]:
    """One plain sentence per kind of saving that is not zero (a loss said as a loss)."""
    lines = []
    for key, what in (("savings_projected_usd", "projected"), ("savings_realised_usd", "realised")):
        value = float(totals.get(key) or 0.0)
        if value > 0:
            lines.append(f"  {what}: routing saves ${value:,.4f}")
        elif value < 0:
            lines.append(f"  {what}: routing costs ${-value:,.4f} more than serving as requested")
    effort = float(totals.get("savings_effort_usd") or 0.0)
    if effort:
        lines.append(f"  lower effort (an estimate, not included above): ${effort:,.4f}")
    return lines


def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    api = _api(ctx, timeout=30.0 if args.team else 3.0)
    if api is None:
        return fail("the gateway is not running; start it with `stackbilt-gw start`")
    if args.team:
        return print_team(api, since=args.since, as_json=args.json)
    periods: dict[str, Any] = {}
    try:
        for label, since in (("today", "today"), ("last 7 days", "7d")):
            periods[label] = api.get("/metrics", {"since": since})
    except (ApiError, NotAvailable) as exc:
        return fail(f"could not read the metrics: {exc}")
    if args.json:
        print(json.dumps(periods, indent=2))
        return 0
    mode = next(iter(periods.values())).get("mode", "?")
    out = [
        f"mode: {mode}   (shadow: savings are projected; live: realised)",
        "savings are never summed across the two; a negative saving means routing cost more",
        "",
    ]
    for label, data in periods.items():
        totals = data.get("totals", {})
        out += _table(label, [{**totals, "key": "all requests"}])
        out += _verdict(totals)
        out += ["", *_table(f"{label} by model", data.get("by_model", []))]
        out += ["", *_table(f"{label} by route class", data.get("by_route_class", []))]
        out += ["", *_table(f"{label} by client", data.get("by_client_id", [])), ""]
    print("\n".join(out).rstrip())
    return 0
