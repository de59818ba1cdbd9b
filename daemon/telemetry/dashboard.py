"""Read-only telemetry views the dashboard (``/ui/api/*``) needs beyond ``queries``.

A zero-filled time series (hours of today, or days) and the calendar window it covers, savings
split by serving mode, per-route-class served vs would-route counts, per-provider
latency/error figures, and the distinct values behind the filter menus. Each call opens its own
read-only connection (call via ``asyncio.to_thread``); a missing database reads as empty. Does
not write, never reads the ``prompt`` column, and knows nothing of HTTP (``http.ui_bp`` parses
the query string and renders the JSON).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from .queries import SUMS_SQL, events_reader, owed_by_class

Bucket = Literal["hour", "day"]
_BUCKET_SQL = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}

# Rows scanned for per-provider latency percentiles and fallback attempts.
SCAN_LIMIT = 20_000


def bucket_keys(bucket: Bucket, since: float, now: float) -> list[str]:
    """Every bucket label from ``since`` to ``now`` (local time), oldest first."""
    start = datetime.fromtimestamp(since)
    end = datetime.fromtimestamp(now)
    if bucket == "hour":
        cur, step = start.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    else:
        cur, step = start.replace(hour=0, minute=0, second=0, microsecond=0), timedelta(days=1)
    keys: list[str] = []
    while cur <= end and len(keys) < 2000:
        keys.append(cur.strftime(_BUCKET_SQL[bucket]))
        cur += step
    return keys


def calendar_start(days: int, now: float) -> float:
    """Local midnight starting the last ``days`` calendar days up to ``now`` (1: today)."""
    midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - timedelta(days=days - 1)).timestamp()


def series(path: Path, *, bucket: Bucket, since: float, now: float) -> list[dict[str, Any]]:
    """Sums per hour/day from ``since`` to ``now``, with empty buckets as zeros."""
    rows: dict[str, dict[str, Any]] = {}
    sql = (
        f"SELECT strftime('{_BUCKET_SQL[bucket]}', ts, 'unixepoch', 'localtime') AS key, {SUMS_SQL}"
        " FROM events WHERE ts >= ? GROUP BY key"
    )
    with events_reader(path) as conn:
        if conn is not None:
            rows = {r["key"]: dict(r) for r in conn.execute(sql, (since,))}
    counts = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    empty: dict[str, float] = {k: 0 for k in (*counts, "cache_write_1h_tokens")}
    empty |= {"cost_usd": 0.0, "would_cost_usd": 0.0, "savings_usd": 0.0, "errors": 0}
    empty |= {"savings_projected_usd": 0.0, "savings_realised_usd": 0.0, "savings_effort_usd": 0.0}
    return [rows.get(key, {"key": key, **empty}) for key in bucket_keys(bucket, since, now)]


def savings_by_mode(path: Path, *, since: float | None) -> dict[str, float]:
    """Savings and requests split by the mode each event was served in: shadow savings are
    projected (what routing would have saved), live savings realised."""
    out = {"projected_usd": 0.0, "realised_usd": 0.0, "shadow_requests": 0.0, "live_requests": 0.0}
    with events_reader(path) as conn:
        if conn is None:
            return out
        for r in conn.execute(
            "SELECT mode, COUNT(*) AS n, COALESCE(SUM(savings_usd), 0.0) AS s FROM events WHERE ts >= ?"
            " GROUP BY mode",
            (since or 0.0,),
        ):
            if r["mode"] == "live":
                out["realised_usd"] += r["s"]
                out["live_requests"] += r["n"]
            else:
                out["projected_usd"] += r["s"]
                out["shadow_requests"] += r["n"]
    return out


def routes(path: Path, *, since: float) -> list[dict[str, Any]]:
    """Per route class: requests, mean confidence, spend, savings (projected and realised apart;
    a re-write owed to a move counted in the move's class), served and would-route counts."""
    out: dict[str, dict[str, Any]] = {}
    with events_reader(path) as conn:
        if conn is None:
            return []
        for r in conn.execute(
            "SELECT COALESCE(route_class, 'unclassified') AS cls, COUNT(*) AS requests,"
            " AVG(confidence) AS mean_confidence, COALESCE(SUM(cost_usd), 0.0) AS cost_usd,"
            " COALESCE(SUM(CASE WHEN mode = 'live' THEN 0.0 ELSE savings_usd END), 0.0)"
            " AS savings_projected_usd,"
            " COALESCE(SUM(CASE WHEN mode = 'live' THEN savings_usd ELSE 0.0 END), 0.0)"
            " AS savings_realised_usd,"
            " SUM(CASE WHEN mode = 'live' THEN 1 ELSE 0 END) AS live_requests"
            " FROM events WHERE ts >= ? GROUP BY cls ORDER BY requests DESC, cls",
            (since,),
        ):
            out[r["cls"]] = {**dict(r), "route_class": r["cls"], "served": {}, "would": {}}
            out[r["cls"]]["charged_back_usd"] = 0.0
            del out[r["cls"]]["cls"]
        for item in owed_by_class(conn, since):  # a re-write counts in the class of its move
            column = "savings_realised_usd" if item["mode"] == "live" else "savings_projected_usd"
            pair = ((item["own"] or "unclassified", -1.0), (item["move_class"], 1.0))
            if all(cls in out for cls, _ in pair):  # both in the period: the sums stay whole
                for cls, sign in pair:
                    out[cls][column] += sign * float(item["usd"])
                    out[cls]["charged_back_usd"] += sign * float(item["usd"])
        for column, target in (("served", "selected"), ("would", "would")):
            for r in conn.execute(
                f"SELECT COALESCE(route_class, 'unclassified') AS cls,"
                f" {target}_provider || '/' || {target}_model AS t, COUNT(*) AS n FROM events"
                f" WHERE ts >= ? AND {target}_provider IS NOT NULL GROUP BY cls, t ORDER BY n DESC, t",
                (since,),
            ):
                if r["cls"] in out:
                    out[r["cls"]][column][r["t"]] = r["n"]
    return list(out.values())


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def providers(path: Path, *, since: float) -> dict[str, dict[str, Any]]:
    """Per provider: requests served, errors, latency (mean/p50/p95), failed attempts, last error."""
    stats: dict[str, dict[str, Any]] = {}
    latencies: dict[str, list[float]] = {}
    ttfbs: dict[str, list[float]] = {}

    def entry(name: str) -> dict[str, Any]:
        return stats.setdefault(
            name,
            {"requests": 0, "errors": 0, "failed_attempts": 0, "last_error": None, "cost_usd": 0.0},
        )

    with events_reader(path) as conn:
        if conn is None:
            return {}
        rows = conn.execute(
            "SELECT ts, status, COALESCE(selected_provider, requested_provider) AS provider, latency_ms,"
            " ttfb_ms, cost_usd, fallback_chain, error_class, error_message FROM events WHERE ts >= ?"
            " ORDER BY ts DESC LIMIT ?",
            (since, SCAN_LIMIT),
        ).fetchall()
    for r in rows:
        name = r["provider"] or "unknown"
        e = entry(name)
        e["requests"] += 1
        e["cost_usd"] += r["cost_usd"] or 0.0
        if r["status"] == "error":
            e["errors"] += 1
            if e["last_error"] is None:
                e["last_error"] = {"ts": r["ts"], "class": r["error_class"], "message": r["error_message"]}
        elif r["status"] == "ok" and r["latency_ms"] is not None:
            latencies.setdefault(name, []).append(float(r["latency_ms"]))
            if r["ttfb_ms"] is not None:
                ttfbs.setdefault(name, []).append(float(r["ttfb_ms"]))
        try:
            chain = json.loads(r["fallback_chain"] or "[]")
        except ValueError:
            chain = []
        for attempt in chain if isinstance(chain, list) else []:
            if isinstance(attempt, dict) and attempt.get("status") == "error":
                failed = entry(str(attempt.get("provider")))
                failed["failed_attempts"] += 1
                if failed["last_error"] is None:
                    failed["last_error"] = {"ts": r["ts"], "class": attempt.get("error"), "message": None}
    for name, e in stats.items():
        lat = latencies.get(name, [])
        e["error_rate"] = e["errors"] / e["requests"] if e["requests"] else None
        e["latency_ms"] = {
            "mean": sum(lat) / len(lat) if lat else None,
            "p50": _percentile(lat, 0.5),
            "p95": _percentile(lat, 0.95),
        }
        ttfb = ttfbs.get(name, [])
        e["ttfb_ms"] = {"mean": sum(ttfb) / len(ttfb) if ttfb else None}
    return stats


def facets(path: Path) -> dict[str, list[str]]:
    """Distinct clients, serving providers, route classes and statuses (for the filter menus)."""
    columns = {
        "client": "client",
        "provider": "selected_provider",
        "route_class": "route_class",
        "status": "status",
    }
    out: dict[str, list[str]] = {name: [] for name in columns}
    with events_reader(path) as conn:
        if conn is None:
            return out
        for name, column in columns.items():
            out[name] = [
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL ORDER BY 1"
                )
            ]
    return out
