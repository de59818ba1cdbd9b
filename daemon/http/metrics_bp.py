"""Read APIs over telemetry and provider health: ``/metrics`` (JSON, with the response cache's
and the telemetry writer's counters: written, dropped, failed, …), ``/metrics/prometheus``,
``/metrics/summary``, ``/events/recent``, ``/shadow/stats`` and ``/providers``.

Database reads run in a worker thread; the event loop never waits on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from quart import Blueprint, Response, jsonify, request

from ..compose.state import GatewayState, state
from ..core.errors import GatewayError, InvalidRequest
from ..core.providers import base_url_for, builtin_providers
from ..governance import audit
from ..telemetry import queries
from ..upstream.cli_bridge import find_binary
from .since import parse_since

bp = Blueprint("metrics", __name__)
GROUPS = ("provider", "model", "route_class", "client", "day")


def _since() -> float | None:
    return parse_since(request.args.get("since"))


@bp.get("/metrics")
async def metrics() -> Response:
    st = state()
    since = _since()
    by = request.args.get("by")
    groups = (by,) if by and by != "client_id" else (() if by else GROUPS)
    if by and by not in (*GROUPS, "client_id"):
        raise InvalidRequest(f"by must be one of {', '.join(GROUPS)}, client_id", param="by")
    out: dict[str, Any] = {
        "mode": st.mode.mode,
        "totals": await asyncio.to_thread(queries.totals, st.db_path, since=since),
    }
    for group in groups:
        out[f"by_{group}"] = await asyncio.to_thread(queries.aggregates, st.db_path, group, since=since)  # type: ignore[arg-type]
    if not by or by == "client_id":  # governance: per client id, and the refusals by rule
        out["by_client_id"] = await asyncio.to_thread(audit.by_client_id, st.db_path, since=since)
        out["refused"] = await asyncio.to_thread(audit.refusals, st.db_path, since=since)
    cache = st.response_cache
    out["response_cache"] = await cache.astats() if cache is not None else {"enabled": False}
    if st.writer is not None:
        out["telemetry"] = _telemetry_counters(st)
    return jsonify(out)


def _telemetry_counters(st: GatewayState) -> dict[str, Any]:
    """The writer's counters since start: every event is written, pending, or lost as one of
    dropped (buffer full or closed), failed (could not be written) or unrecorded (its event
    could not be built); ``problem``: why nothing is being written (as ``/health`` says)."""
    assert st.writer is not None
    return {
        "written": st.writer.written,
        "dropped": st.writer.dropped,
        "failed": st.writer.failed,
        "unrecorded": st.recorder.failed if st.recorder is not None else 0,
        "pending": st.writer.pending,
        "problem": st.writer.problem(),
        "ledger": st.writer.ledger.status() if st.writer.ledger is not None else {"enabled": False},
    }


@bp.get("/metrics/summary")
async def summary() -> Response:
    st = state()
    totals = await asyncio.to_thread(
        queries.totals, st.db_path, since=parse_since(request.args.get("since", "today"))
    )
    projected = totals.get("savings_projected_usd", 0.0) or 0.0
    realised = totals.get("savings_realised_usd", 0.0) or 0.0
    mode = st.mode.mode
    return jsonify(
        {
            "mode": mode,
            "requests": totals.get("requests", 0),
            "spend_usd": totals.get("cost_usd", 0.0) or 0.0,
            # Projected (shadow) and realised (live) savings are never summed: the headline is the
            # current mode's own kind.
            "savings_usd": realised if mode == "live" else projected,
            "savings_projected_usd": projected,
            "savings_realised_usd": realised,
            # Same-model savings of a lower effort (routing.effort): an estimate, its own kind.
            "savings_effort_usd": totals.get("savings_effort_usd", 0.0) or 0.0,
        }
    )


def _prom_line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


PROM_SERIES = (
    ("stackbilt_requests_total", "counter", "Requests answered, by provider.", ("requests",)),
    ("stackbilt_cost_usd_total", "counter", "Spend in USD, by provider.", ("cost_usd",)),
    (
        "stackbilt_tokens_total",
        "counter",
        "Tokens, by provider and kind.",
        ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"),
    ),
)


@bp.get("/metrics/prometheus")
async def prometheus() -> Response:
    st = state()
    rows = await asyncio.to_thread(queries.aggregates, st.db_path, "provider")
    lines: list[str] = []
    for name, kind, help_text, columns in PROM_SERIES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for r in rows:
            for col in columns:
                labels = {"provider": str(r["key"])}
                if len(columns) > 1:
                    labels["kind"] = col
                lines.append(_prom_line(name, r.get(col, 0) or 0, labels))
    lines += [
        "# HELP stackbilt_breaker_open Circuit breaker open (1) or not (0).",
        "# TYPE stackbilt_breaker_open gauge",
    ]
    for provider, snap in st.router.breakers.snapshot().items():
        lines.append(
            _prom_line("stackbilt_breaker_open", 1 if snap["state"] == "open" else 0, {"provider": provider})
        )
    if st.writer is not None:
        lines += [
            "# HELP stackbilt_telemetry_events_total Telemetry events since start, by outcome.",
            "# TYPE stackbilt_telemetry_events_total counter",
        ]
        counters = _telemetry_counters(st)
        for outcome in ("written", "dropped", "failed", "unrecorded"):
            lines.append(
                _prom_line("stackbilt_telemetry_events_total", counters[outcome], {"outcome": outcome})
            )
    refused = await asyncio.to_thread(audit.refusals, st.db_path)
    lines += [
        "# HELP stackbilt_refused_total Requests refused by governance, by rule.",
        "# TYPE stackbilt_refused_total counter",
    ]
    for rule, n in refused["by_rule"].items():
        lines.append(_prom_line("stackbilt_refused_total", n, {"rule": rule}))
    lines += [
        "# TYPE stackbilt_live_mode gauge",
        _prom_line("stackbilt_live_mode", 1 if st.mode.mode == "live" else 0),
    ]
    return Response("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")


@bp.get("/events/recent")
async def events_recent() -> Response:
    st = state()
    args = request.args
    try:
        limit = min(max(int(args.get("limit", "50")), 1), 500)
        offset = max(int(args.get("offset", "0")), 0)
    except ValueError:
        raise InvalidRequest("limit and offset must be integers", param="limit") from None
    rows = await asyncio.to_thread(
        queries.recent,
        st.db_path,
        limit=limit,
        offset=offset,
        client=args.get("client"),
        provider=args.get("provider"),
        route_class=args.get("route_class"),
        status=args.get("status"),
        since=_since(),
    )
    return jsonify({"events": rows, "limit": limit, "offset": offset})


@bp.get("/governance")
async def governance() -> Response:
    """Clients (never keys) and their limits, and every budget's spend, burn rate and forecast."""
    st = state()
    refused = await asyncio.to_thread(audit.refusals, st.db_path, since=parse_since("today"))
    return jsonify({**st.governance.snapshot(), "refused_today": refused})


@bp.get("/shadow/stats")
async def shadow_stats() -> Response:
    st = state()
    rows = await asyncio.to_thread(queries.shadow_stats, st.db_path, since=_since())
    return jsonify({"mode": st.mode.mode, "classes": rows})


async def _bridge_status(env: Mapping[str, str], display_name: str, *, live: bool) -> dict[str, Any]:
    """The CLI bridge is configured when its binary is found; live, ``--version`` must answer."""
    status: dict[str, Any] = {"display_name": display_name, "wires": [], "base_url": None}
    try:
        binary = find_binary(env)
    except GatewayError as exc:
        return {**status, "configured": False, "problem": exc.message}
    status |= {"configured": True, "binary": binary}
    if live:
        try:
            proc = await asyncio.create_subprocess_exec(
                binary,
                "--version",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
            ok = proc.returncode == 0
            status["probe"] = {"ok": ok, "version": out.decode("utf-8", "replace").strip()[:100]}
        except (OSError, TimeoutError) as exc:
            status["probe"] = {"ok": False, "error": type(exc).__name__}
    return status


async def _probe(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        resp = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": resp.status_code < 400, "status": resp.status_code}


@bp.get("/providers")
async def providers() -> Response:
    st = state()
    board = st.router.breakers.snapshot()
    out: dict[str, Any] = {}
    probes: dict[str, Any] = {}
    live = request.args.get("live") in ("1", "true")
    for name, spec in builtin_providers().items():
        if spec.bridge is not None:  # the claude-cli bridge: a local binary, no URL, no key
            out[name] = await _bridge_status(st.env, spec.display_name, live=live)
            continue
        key = await st.keys.aget(spec)
        out[name] = {
            "display_name": spec.display_name,
            "wires": list(spec.wires),
            "base_url": base_url_for(spec, st.config, st.env),
            "configured": bool(key) or spec.key_optional,
            "breaker": board.get(name, {"state": "closed"}),
        }
        if live and out[name]["configured"] and name not in st.loops:
            path = "/v1/models" if spec.wires[0] == "anthropic" else "/models"
            headers = (
                {"x-api-key": key, "anthropic-version": "2023-06-01"}
                if spec.auth == "x-api-key" and key
                else ({"authorization": f"Bearer {key}"} if key else {})
            )
            probes[name] = (out[name]["base_url"] + path, headers)
    if probes:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            results = await asyncio.gather(*(_probe(client, url, h) for url, h in probes.values()))
        for name, result in zip(probes, results, strict=True):
            out[name]["probe"] = result
    return jsonify({"providers": out, "mode": st.mode.mode})
