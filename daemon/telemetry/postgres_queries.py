"""The team view's reads from the shared ledger (PostgreSQL): one report of every developer's
events, for ``GET /team`` (which the dashboard's Team view and ``stackbilt-gw stats --team``
share).

Owns the aggregate queries: totals; spend, tokens and savings (projected in shadow mode and
realised in live mode, apart: never summed) per person (``user``), machine,
repository, model (the model that answered) and UTC day; the routes taken (requested model →
selected model); refusals (``status = 'refused'``) and errors by person and class. Each call
opens its own short-lived connection (blocking: callers run it in a worker thread). Does not
write (``postgres``) or migrate (``postgres_schema``; a ledger nobody has shipped to yet answers
an empty report).
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from .postgres import connect
from .postgres_schema import TABLE

# Rows per list at most (the biggest spend first).
LIMIT = 200
_SUMS = """
    count(*)::bigint AS requests,
    COALESCE(SUM(input_tokens), 0)::bigint AS input_tokens,
    COALESCE(SUM(output_tokens), 0)::bigint AS output_tokens,
    COALESCE(SUM(cache_read_tokens), 0)::bigint AS cache_read_tokens,
    COALESCE(SUM(cache_write_tokens), 0)::bigint AS cache_write_tokens,
    COALESCE(SUM(cost_usd), 0)::double precision AS cost_usd,
    COALESCE(SUM(savings_usd) FILTER (WHERE mode <> 'live'), 0)::double precision AS savings_projected_usd,
    COALESCE(SUM(savings_usd) FILTER (WHERE mode = 'live'), 0)::double precision AS savings_realised_usd,
    (count(*) FILTER (WHERE status <> 'ok'))::bigint AS errors
"""
_GROUPS = {
    "user": '"user"',
    "machine": "machine",
    "repo": "COALESCE(repo, '(none)')",
    "model": "COALESCE(selected_model, requested_model, '(unknown)')",
    "day": "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def _where(since: float | None) -> tuple[str, tuple[object, ...]]:
    return ("WHERE ts >= %s", (since,)) if since is not None else ("", ())


def _table_exists(cur: Any) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (TABLE,))
    row = cur.fetchone()
    return bool(row and row["present"])


def _rows(cur: Any, sql: str, params: tuple[object, ...]) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    return [dict(row) for row in cur.fetchall()]


def report(url: str, *, since: float | None = None) -> dict[str, Any]:
    """The team report since ``since`` (epoch seconds; None: everything in the ledger)."""
    where, params = _where(since)
    out: dict[str, Any] = {"since": since, "totals": {}, "routes": [], "refusals": [], "errors": []}
    for group in _GROUPS:
        out[f"by_{group}"] = []
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        if not _table_exists(cur):
            out["totals"] = {"requests": 0, "cost_usd": 0.0, "users": 0, "machines": 0}
            return out
        totals = _rows(
            cur,
            f'SELECT {_SUMS}, count(DISTINCT "user")::bigint AS users, '
            f"count(DISTINCT machine)::bigint AS machines FROM {TABLE} {where}",
            params,
        )
        out["totals"] = totals[0]
        for group, expr in _GROUPS.items():
            order = "key" if group == "day" else "cost_usd DESC, requests DESC, key"
            out[f"by_{group}"] = _rows(
                cur,
                f"SELECT {expr} AS key, {_SUMS} FROM {TABLE} {where} "
                f"GROUP BY 1 ORDER BY {order} LIMIT {LIMIT}",
                params,
            )
        out["routes"] = _rows(
            cur,
            f"SELECT COALESCE(requested_model, '(unknown)') AS requested_model, "
            f"COALESCE(selected_model, requested_model, '(unknown)') AS selected_model, {_SUMS} "
            f"FROM {TABLE} {where} GROUP BY 1, 2 ORDER BY requests DESC, 1, 2 LIMIT {LIMIT}",
            params,
        )
        for name, status in (("refusals", "= 'refused'"), ("errors", "NOT IN ('ok', 'refused')")):
            clause = f"{where} AND status {status}" if where else f"WHERE status {status}"
            out[name] = _rows(
                cur,
                f'SELECT "user", COALESCE(error_class, status) AS error_class, count(*)::bigint AS requests, '
                f"max(ts) AS last_ts FROM {TABLE} {clause} GROUP BY 1, 2 ORDER BY requests DESC, 1, 2 "
                f"LIMIT {LIMIT}",
                params,
            )
    return out
