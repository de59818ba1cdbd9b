"""``stackbilt-gw stats --team``: the shared team ledger's report, as tables or JSON.

Owns the wording and layout only: the numbers are the daemon's ``GET /team`` (read from
PostgreSQL there, so the dashboard's Team view and this command show the same thing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..control.api_client import ApiError, DaemonApi, NotAvailable
from .common import fail

SPEND = (
    ("requests", "requests", "{:>9}"),
    ("input_tokens", "input", "{:>11}"),
    ("output_tokens", "output", "{:>10}"),
    ("cost_usd", "spend $", "{:>11.4f}"),
    ("savings_projected_usd", "projected $", "{:>12.4f}"),
    ("savings_realised_usd", "realised $", "{:>11.4f}"),
    ("errors", "errors", "{:>7}"),
)
ROUTES = (("requests", "requests", "{:>9}"), ("cost_usd", "spend $", "{:>11.4f}"))
COUNTS = (("requests", "count", "{:>7}"),)


def _table(
    title: str,
    rows: Sequence[dict[str, Any]],
    key: str | Sequence[str],
    columns: Sequence[tuple[str, str, str]],
    width: int = 34,
) -> list[str]:
    keys = (key,) if isinstance(key, str) else tuple(key)
    header = f"{title:<{width}}" + "".join(f"{label:>{len(fmt.format(0))}}" for _, label, fmt in columns)
    lines = [header, "-" * len(header)]
    for row in rows:
        name = " → ".join(str(row.get(k) or "-") for k in keys)
        cells = "".join(fmt.format(row.get(col) or 0) for col, _, fmt in columns)
        lines.append(f"{name[: width - 1]:<{width}}{cells}")
    if not rows:
        lines.append("(none)")
    return [*lines, ""]


def _ledger_line(ledger: dict[str, Any]) -> str:
    if not ledger.get("enabled"):
        return "this gateway: not shipping to the ledger"
    line = (
        f"this gateway ({ledger.get('user')}@{ledger.get('machine')}): {ledger.get('shipped', 0)} shipped, "
        f"{ledger.get('pending') or 0} waiting"
    )
    return line + (f" — {ledger['problem']}" if ledger.get("problem") else "")


def render(report: dict[str, Any], since: str) -> str:
    totals = report.get("totals", {})
    out = [
        f"team ledger, {since if since != 'all' else 'all time'}: {totals.get('requests', 0)} requests by "
        f"{totals.get('users', 0)} people on {totals.get('machines', 0)} machines, "
        f"spend ${float(totals.get('cost_usd') or 0):.4f}",
        _ledger_line(report.get("ledger", {})),
        "",
    ]
    out += _table("by person", report.get("by_user", []), "key", SPEND)
    out += _table("by repository", report.get("by_repo", []), "key", SPEND)
    out += _table("by model", report.get("by_model", []), "key", SPEND)
    out += _table("by day (UTC)", report.get("by_day", []), "key", SPEND)
    out += _table(
        "routes (requested → served)",
        report.get("routes", []),
        ("requested_model", "selected_model"),
        ROUTES,
        56,
    )
    refusals = report.get("refusals", [])
    if refusals:
        out += _table("refusals (person → rule)", refusals, ("user", "error_class"), COUNTS, 56)
    out += _table("errors (person → class)", report.get("errors", []), ("user", "error_class"), COUNTS, 56)
    return "\n".join(out).rstrip()


def print_team(api: DaemonApi, *, since: str, as_json: bool) -> int:
    try:
        report = api.get("/team", {"since": since})
    except NotAvailable:
        return fail("this gateway has no team view (GET /team); update it")
    except ApiError as exc:
        return fail(f"could not read the team ledger: {exc}")
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(render(report, since))
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"\n(read {stamp}; spend is what each gateway priced when it answered)")
    return 0
