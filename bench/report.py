"""Turning measured rows into comparisons, budget verdicts and Markdown.

Owns the derived numbers (overheads against the direct upstream and the reference proxy, CPU
ratios, requests per CPU-second against the LiteLLM figures quoted in the issue) and their
rendering. Pure functions over the dicts ``bench.run`` builds; no I/O.
"""

from __future__ import annotations

import statistics
from typing import Any

# CPU ms per request of a LiteLLM proxy (1 worker) at concurrency 32, measured on the
# project's 2-core machine and quoted in the benchmark issue (not measured by this run).
LITELLM_CPU_MS_C32 = {"small": 14.9, "stream": 60.2}
BUDGET = {
    "added_p50_ms": 2.0,
    "ttfb_added_ms": 2.0,
    "cpu_ratio": 1.5,
    "x_litellm": 8.0,
    "idle_rss_mib": 80.0,
    "ready_s": 1.5,
}
Row = dict[str, Any]
DASH = "\u2013"  # an en dash for "no value" cells


def _diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def comparisons(results: list[Row]) -> list[Row]:
    """One entry per (scenario, concurrency): the gateway against direct and the reference."""
    by_key: dict[tuple[str, int], dict[str, Row]] = {}
    for row in results:
        by_key.setdefault((row["scenario"], row["concurrency"]), {})[row["target"]] = row
    out: list[Row] = []
    for (scenario, level), rows in by_key.items():
        d, r, g = rows.get("direct", {}), rows.get("reference", {}), rows.get("gateway", {})
        entry: Row = {
            "scenario": scenario,
            "concurrency": level,
            "gateway_available": bool(g.get("available")),
        }
        if not g.get("available"):
            entry["note"] = g.get("note", "not measured")
        entry.update(
            gateway_added_p50_ms=_diff(g.get("p50_ms"), d.get("p50_ms")),
            gateway_added_p99_ms=_diff(g.get("p99_ms"), d.get("p99_ms")),
            reference_added_p50_ms=_diff(r.get("p50_ms"), d.get("p50_ms")),
            gateway_minus_reference_p50_ms=_diff(g.get("p50_ms"), r.get("p50_ms")),
            gateway_ttfb_added_ms=_diff(g.get("ttfb_p50_ms"), d.get("ttfb_p50_ms")),
            reference_ttfb_added_ms=_diff(r.get("ttfb_p50_ms"), d.get("ttfb_p50_ms")),
            cpu_ratio_gateway_reference=_ratio(g.get("cpu_ms_per_req"), r.get("cpu_ms_per_req")),
            rps_ratio_gateway_direct=_ratio(g.get("rps"), d.get("rps")),
            gateway_req_per_cpu_s=_ratio(1000.0, g.get("cpu_ms_per_req")),
            reference_req_per_cpu_s=_ratio(1000.0, r.get("cpu_ms_per_req")),
            events_ok=all(x.get("events_ok", True) for x in (d, r, g) if x.get("available")),
        )
        kind = "small" if "small" in scenario else "stream" if "stream" in scenario else None
        if level == 32 and kind is not None:
            entry["x_litellm"] = _ratio(LITELLM_CPU_MS_C32[kind], g.get("cpu_ms_per_req"))
        out.append(entry)
    return out


def median_comparisons(per_run: list[list[Row]]) -> list[Row]:
    """Repeated runs: each comparison is the median of the same-run values.

    A ratio is taken between the gateway and the reference measured back to back in one run;
    its median across runs is steadier than a ratio of medians, which pairs a reference from one
    run with a gateway from another when the machine's speed drifts between runs.
    """
    merged: list[Row] = []
    for entries in zip(*per_run, strict=True):
        out = dict(entries[0])
        for key, value in entries[0].items():
            if key == "concurrency":
                continue
            if isinstance(value, bool):
                out[key] = all(e.get(key) for e in entries)
            elif isinstance(value, int | float) or value is None:
                values = [e[key] for e in entries if isinstance(e.get(key), int | float)]
                out[key] = statistics.median(values) if values else None
        merged.append(out)
    return merged


def _check(name: str, value: float | None, limit: float, higher_is_better: bool = False) -> Row:
    if value is None:
        verdict = "n/a"
    elif higher_is_better:
        verdict = "pass" if value >= limit else "FAIL"
    else:
        verdict = "pass" if value <= limit else "FAIL"
    return {"check": name, "value": value, "limit": limit, "verdict": verdict}


def budget(data: Row) -> list[Row]:
    """The issue's budget, row by row, from this run's numbers ("n/a" when not measured)."""
    checks: list[Row] = []
    comps: list[Row] = data["comparisons"]
    floor = data["meta"].get("reference", "stack") != "stack"
    for c in comps:
        name, level = c["scenario"], c["concurrency"]
        small = "small" in name
        if small and level == 1:
            row = _check(f"{name} c=1: added p50 ms", c["gateway_added_p50_ms"], BUDGET["added_p50_ms"])
            checks.append({**row, "reference": c.get("reference_added_p50_ms")})
        if not small and level == 1:
            row = _check(f"{name} c=1: TTFB added ms", c["gateway_ttfb_added_ms"], BUDGET["ttfb_added_ms"])
            checks.append({**row, "reference": c.get("reference_ttfb_added_ms")})
        if not floor:  # the budget's ratio is against the bare proxy on the gateway's own stack
            checks.append(
                _check(
                    f"{name} c={level}: CPU gateway/reference",
                    c["cpu_ratio_gateway_reference"],
                    BUDGET["cpu_ratio"],
                )
            )
        if "x_litellm" in c:
            checks.append(
                _check(f"{name} c=32: req per CPU-s vs LiteLLM", c["x_litellm"], BUDGET["x_litellm"], True)
            )
    for row in data["results"]:
        if row.get("available") and "events_ok" in row and not row["events_ok"]:
            checks.append(
                {
                    "check": f"{row['scenario']} c={row['concurrency']} {row['target']}: all SSE events",
                    "value": f"{row['deltas_received']}/{row['deltas_sent']} deltas, "
                    f"{row['events_received']}/{row['events_sent']} events",
                    "limit": "all",
                    "verdict": "FAIL",
                }
            )
    streamed = [r for r in data["results"] if r.get("available") and "events_ok" in r]
    if streamed and all(r["events_ok"] for r in streamed):
        checks.append(
            {
                "check": "every SSE event received (all phases)",
                "value": "all",
                "limit": "all",
                "verdict": "pass",
            }
        )
    tel = data.get("telemetry") or {}
    if tel:
        kept_up = tel.get("dropped") == 0 and tel.get("pending") == 0
        checks.append(
            {
                "check": "telemetry: every request's event written, none dropped",
                "value": f"{tel.get('written')} written, {tel.get('dropped')} dropped, "
                f"{tel.get('pending')} still buffered",
                "limit": "0 dropped",
                "verdict": "pass" if kept_up else "FAIL",
            }
        )
    gw = data["startup"]["gateway"]
    checks.append(_check("gateway idle RSS MiB", gw["idle_rss_mib"], BUDGET["idle_rss_mib"]))
    checks.append(_check("gateway start-to-ready s (median)", gw["ready_s_median"], BUDGET["ready_s"]))
    return checks


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _signed(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:+.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def markdown(data: Row) -> str:
    """The whole report as Markdown."""
    meta, startup, cls = data["meta"], data["startup"], data["classification"]
    dirty = " + uncommitted daemon changes" if meta.get("daemon_tree_dirty") else ""
    lines = [
        f"# Gateway benchmark — {meta['timestamp']} ({meta['mode']}, repeat {meta['repeat']})",
        "",
        f"commit `{meta['git_commit']}`{dirty} · Python {meta['python']} · {meta['cpus']} CPUs · "
        f"load average at end {fmt(meta['load_average'][0] if meta['load_average'] else None)} · "
        f"upstream streams {meta['chunks']} deltas, {meta['delay_ms']} ms apart · {meta['duration_s']} s",
        "",
        *(
            [
                "**Reference seat: the raw-asyncio floor (`bench.floor_proxy`), not the budget's "
                "reference; CPU ratios are against the floor and are not checked.**",
                "",
            ]
            if meta.get("reference", "stack") != "stack"
            else []
        ),
        "## Start-up and memory",
        "",
    ]
    lines += _table(
        ["process", "start-to-ready s (median)", "all starts s", "idle RSS MiB"],
        [
            [
                name,
                fmt(s["ready_s_median"], 3),
                ", ".join(f"{t:.3f}" for t in s["ready_s"]),
                fmt(s["idle_rss_mib"], 1),
            ]
            for name, s in startup.items()
        ],
    )
    lines += ["", "## Classification of a Claude Code-shaped request", ""]
    steps = [k for k in ("json_loads", "parse_request", "classify") if k in cls]
    lines += _table(
        ["step", "median ms", "p99 ms", "n"],
        [[k, fmt(cls[k]["median_ms"], 3), fmt(cls[k]["p99_ms"], 3), str(cls[k]["n"])] for k in steps],
    )
    lines.append("")
    loader = f"JSON parsed by {cls['json_loader']}. " if cls.get("json_loader") else ""
    note = "" if cls["available"] else f"**{cls.get('note')}**"
    lines.append(f"Body {cls['body_bytes']} bytes. {loader}{note}")
    results: dict[tuple[str, int, str], Row] = {
        (r["scenario"], r["concurrency"], r["target"]): r for r in data["results"]
    }
    comps = data["comparisons"]
    repeated = (
        [
            "",
            "Absolute columns are medians across the runs; added, minus and ratio columns are medians of "
            "the values each run measured (gateway and reference back to back).",
        ]
        if meta.get("repeat", 1) > 1
        else []
    )
    lines += ["", "## Latency (ms; p50 / p99; TTFB = first body byte, streams only)", *repeated, ""]
    rows = []
    for c in comps:
        key = (c["scenario"], c["concurrency"])
        d, r, g = (results.get((*key, t), {}) for t in ("direct", "reference", "gateway"))

        def pp(x: Row) -> str:
            if not x.get("available"):
                return "not available"
            return f"{fmt(x.get('p50_ms'))} / {fmt(x.get('p99_ms'))}"

        def tt(x: Row) -> str:
            return fmt(x.get("ttfb_p50_ms")) if x.get("available") else DASH

        rows.append(
            [
                c["scenario"],
                str(c["concurrency"]),
                pp(d),
                pp(r),
                pp(g) if g.get("available") else f"not available ({fmt(g.get('note'))[:60]})",
                _signed(c["reference_added_p50_ms"]),
                _signed(c["gateway_added_p50_ms"]),
                _signed(c["gateway_minus_reference_p50_ms"]),
                f"{tt(d)} / {tt(r)} / {tt(g)}",
                _signed(c["gateway_ttfb_added_ms"]),
            ]
        )
    lines += _table(
        [
            "scenario",
            "c",
            "direct",
            "reference",
            "gateway",
            "ref added p50",
            "gw added p50",
            "gw - ref p50",
            "TTFB p50 direct / ref / gw",
            "gw TTFB added",
        ],
        rows,
    )
    lines += ["", "## Throughput, CPU and memory", *repeated, ""]
    rows = []
    for c in comps:
        key = (c["scenario"], c["concurrency"])
        d, r, g = (results.get((*key, t), {}) for t in ("direct", "reference", "gateway"))
        rows.append(
            [
                c["scenario"],
                str(c["concurrency"]),
                f"{fmt(d.get('rps'), 0)} / {fmt(r.get('rps'), 0)} / {fmt(g.get('rps'), 0)}",
                fmt(r.get("cpu_ms_per_req")),
                fmt(g.get("cpu_ms_per_req")),
                fmt(c["cpu_ratio_gateway_reference"]),
                fmt(c["gateway_req_per_cpu_s"], 0),
                fmt(c.get("x_litellm"), 1),
                f"{fmt(r.get('peak_rss_mib'), 0)} / {fmt(g.get('peak_rss_mib'), 0)}",
                fmt(g.get("upstream_cpu_ms_per_req")),
                " / ".join(fmt(x.get("foreign_cpu_pct"), 0) for x in (d, r, g)),
                _events(d, r, g),
            ]
        )
    lines += _table(
        [
            "scenario",
            "c",
            "RPS direct / ref / gw",
            "ref CPU ms/req",
            "gw CPU ms/req",
            "gw/ref CPU",
            "gw req per CPU-s",
            "x LiteLLM",
            "peak RSS MiB ref / gw",
            "upstream CPU ms/req",
            "other CPU % d / r / g",
            "SSE events",
        ],
        rows,
    )
    lines += ["", "## Budget", ""]
    lines += _table(
        ["check", "measured", "the reference alone", "budget", "verdict"],
        [
            [b["check"], fmt(b["value"]), fmt(b.get("reference")), fmt(b["limit"]), b["verdict"]]
            for b in data["budget"]
        ],
    )
    lines += [
        "",
        "The reference column is what the bare proxy on the same stack added in the same runs: an "
        "absolute latency budget cannot be met by the gateway when the stack alone spends it.",
    ]
    lines.append("")
    return "\n".join(lines)


def _events(*rows: Row) -> str:
    streamed = [x for x in rows if x.get("available") and "events_ok" in x]
    if not streamed:
        return DASH
    if all(x["events_ok"] for x in streamed):
        g = streamed[-1]
        return f"all ({g['deltas_received']} deltas)"
    return "MISSING " + ", ".join(
        f"{x['target']} {x['deltas_received']}/{x['deltas_sent']}" for x in streamed if not x["events_ok"]
    )
