"""``python -m bench.run [--quick] [--repeat N] [--out bench/results]``: the whole benchmark.

Owns the run: starts the fake upstream (``stackbilt_gateway.daemon.simulator.fast``), the reference proxy
(``bench.reference_proxy``) and the real gateway daemon (``python -m stackbilt_gateway.daemon``
with an isolated ``STACKBILT_GATEWAY_HOME``) as subprocesses on free 127.0.0.1 ports; measures
the daemon's start-to-ready time and idle RSS; times request classification; then runs every
scenario against (a) the upstream directly, (b) the reference proxy and (c) the gateway, at
concurrency 1 and 32, interleaved, ``--repeat`` times, and takes medians. Per phase it reads the
measured process's CPU time (psutil, user+system) before and after, and the fake upstream's
counters of SSE events and deltas sent. Writes ``<out>/<timestamp>.json`` and ``.md`` and prints
the Markdown. Rendering is ``bench.report``; load generation is ``bench.load``.

Every phase is bounded by a request count and a time cap; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from . import profiling, report
from .classify_time import time_classification
from .load import Pool, build_request, get_json, percentile, post_once
from .procs import HOST, PYTHON, Child, child_env, free_port, spawn, spawn_announcing, stop, wait_ready
from .scenarios import ROOT, Scenario, all_scenarios, credential

GATEWAY_KEY = "sgw-bench-gateway-key-0123456789abcdef"
GATEWAY_KEY_HEADER = "x-stackbilt-gateway-key"
UPSTREAM_KEY = "sk-bench-upstream-key"
TARGETS = ("direct", "reference", "gateway")
# (c=1 requests, c=32 requests) per scenario kind, for a full and a --quick run.
REQUESTS = {
    "full": {"small": (1000, 2000), "stream": (300, 1000), "agent": (400, 800)},
    "quick": {"small": (150, 400), "stream": (50, 160), "agent": (30, 96)},
}
TIME_CAP = {"full": 6.0, "quick": 1.5}
REFERENCES = {"stack": "bench.reference_proxy", "floor": "bench.floor_proxy"}


@dataclass
class Targets:
    upstream: Child
    reference: Child
    gateway: Child


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer requests, shorter caps (≤ ~40 s)")
    p.add_argument("--repeat", type=int, default=1, help="run the matrix N times; report medians")
    p.add_argument("--out", default="bench/results", help="directory for <timestamp>.json/.md")
    p.add_argument("--scenario", action="append", help="only these scenarios (repeatable, or a,b)")
    p.add_argument("--concurrency", default="1,32", help="comma-separated levels (default 1,32)")
    p.add_argument("--requests", type=int, help="requests per phase (overrides the defaults)")
    p.add_argument("--time-cap", type=float, help="seconds per phase (default 6, quick 1.5)")
    p.add_argument("--chunks", type=int, default=50, help="content deltas per upstream stream")
    p.add_argument("--delay-ms", type=float, default=0.0, help="upstream pause between events")
    p.add_argument("--starts", type=int, help="gateway cold starts to time (default 3, quick 1)")
    p.add_argument(
        "--reference",
        choices=sorted(REFERENCES),
        default="stack",
        help="what sits in the reference seat: the bare proxy on the gateway's own stack (the "
        "budget's reference) or the raw-asyncio floor (bench.floor_proxy; not for the budget)",
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="record py-spy profiles of gateway and reference per phase into DIR (not for the budget)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    names = [n for group in args.scenario or [] for n in group.split(",") if n]
    known = {s.name for s in all_scenarios()}
    unknown = sorted(set(names) - known)
    if unknown:
        p.error(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    args.scenario_names = names
    args.levels = [int(c) for c in args.concurrency.split(",") if c]
    return args


def _gateway_env(upstream_url: str, home: Path) -> dict[str, str]:
    return child_env(
        {
            "STACKBILT_GATEWAY_HOME": str(home),
            "STACKBILT_GATEWAY_KEY": GATEWAY_KEY,
            "STACKBILT_ANTHROPIC_BASE_URL": upstream_url,
            "STACKBILT_GROQ_BASE_URL": upstream_url + "/v1",
            "STACKBILT_OPENAI_BASE_URL": upstream_url + "/v1",
            "ANTHROPIC_API_KEY": UPSTREAM_KEY,
            "GROQ_API_KEY": UPSTREAM_KEY,
            "OPENAI_API_KEY": UPSTREAM_KEY,
        }
    )


async def _start_upstream(args: argparse.Namespace, tmp: Path) -> Child:
    argv = [
        PYTHON,
        "-m",
        "stackbilt_gateway.daemon.simulator.fast",
        "--port",
        "0",
        "--chunks",
        str(args.chunks),
    ]
    argv += ["--delay-ms", str(args.delay_ms)]
    env = child_env({"PYTHONPATH": str(ROOT)})
    child = spawn_announcing("upstream", argv, env=env, cwd=ROOT, log=tmp / "fake_upstream.log")
    await wait_ready(child)
    return child


async def _start_gateway(
    args: argparse.Namespace, tmp: Path, upstream_url: str
) -> tuple[Child, dict[str, Any]]:
    """Start the daemon ``--starts`` times (timing each), keep the last one running."""
    starts = args.starts or (1 if args.quick else 3)
    home = tmp / "gateway-home"
    cwd = tmp / "gateway-cwd"  # no stray gateway.config.json from the working directory
    cwd.mkdir(exist_ok=True)
    env = _gateway_env(upstream_url, home)
    # A fresh bytecode cache outside the project: the first start compiles the daemon (as right
    # after an install without .pyc), later starts load bytecode like an installed package.
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: list[float] = []
    child: Child | None = None
    for i in range(starts):
        port = free_port()
        argv = [PYTHON, "-m", "stackbilt_gateway.daemon", "--host", HOST, "--port", str(port)]
        child = spawn("gateway", argv, port=port, env=env, cwd=cwd, log=tmp / "gateway.log")
        times.append(await wait_ready(child))
        if i < starts - 1:
            stop(child)
    assert child is not None
    await asyncio.sleep(1.0)  # let start-up allocations settle before reading idle RSS
    target = child.ps
    info = {
        "ready_s": times,
        "ready_s_median": statistics.median(times),
        "ready_s_first": times[0],
        "idle_rss_mib": _rss(target),
    }
    return child, info


def _rss(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / (1024 * 1024)


def _peak_rss(proc: psutil.Process) -> float:
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _rss(proc)


async def _sample_rss(proc: psutil.Process) -> float:
    """Largest RSS seen every 20 ms until cancelled (the phase's peak, unlike VmHWM)."""
    peak = 0.0
    try:
        while True:
            peak = max(peak, _rss(proc))
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        return max(peak, _rss(proc))


async def _stop_sampler(task: asyncio.Task[float] | None) -> float | None:
    if task is None:
        return None
    task.cancel()
    return await task


def _machine_busy() -> float:
    """Seconds of CPU the whole machine spent not idle, summed over cores."""
    t = psutil.cpu_times()
    return float(sum(t)) - float(t.idle) - float(getattr(t, "iowait", 0.0))


def _foreign_pct(machine_s: float, ours_s: float, wall_s: float) -> float | None:
    if wall_s <= 0:
        return None
    return max(0.0, (machine_s - ours_s) / (wall_s * (os.cpu_count() or 1)) * 100)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _sys_and_switches(proc: psutil.Process | None) -> tuple[float, int]:
    """System CPU seconds and context switches so far (0s for the direct target)."""
    if proc is None:
        return 0.0, 0
    switches = proc.num_ctx_switches()
    return float(proc.cpu_times().system), switches.voluntary + switches.involuntary


async def _telemetry(port: int) -> dict[str, Any]:
    """The gateway's telemetry writer counters (``/metrics``): written, dropped, still buffered."""
    auth = ((GATEWAY_KEY_HEADER, GATEWAY_KEY),)
    recent = f"/metrics?since={int(time.time()) - 5}&by=provider"  # cheap: counters, not aggregates
    status, body = await get_json(HOST, port, recent, limit_s=15.0, headers=auth)
    tel = body.get("telemetry") if status == 200 and isinstance(body, dict) else None
    if not isinstance(tel, dict):
        return {}
    return {"written": tel["written"], "dropped": tel["dropped"], "pending": tel["pending"]}


async def _telemetry_drained(port: int, limit_s: float = 10.0) -> dict[str, Any]:
    """Telemetry counters once the writer's buffer is empty and its counters have settled (or
    ``limit_s`` passed): a batch taken from the buffer is counted only once it is written."""
    deadline = time.monotonic() + limit_s
    tel, before = await _telemetry(port), None
    while (tel.get("pending") or tel != before) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        tel, before = await _telemetry(port), tel
    return tel


def _profile_path(args: argparse.Namespace, scenario: Scenario, level: int, target: str) -> Path:
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if target == "gateway" else f"_{target}"
    return out / f"{scenario.name}_c{level}{suffix}.txt"


def _counts(args: argparse.Namespace, scenario: Scenario, level: int) -> int:
    if args.requests:
        return int(args.requests)
    low, high = REQUESTS["quick" if args.quick else "full"][scenario.kind]
    return low if level == 1 else high


async def _phase(
    args: argparse.Namespace, targets: Targets, scenario: Scenario, level: int, target: str
) -> dict[str, Any]:
    """Warm up, then measure one (scenario, concurrency, target)."""
    row: dict[str, Any] = {"scenario": scenario.name, "concurrency": level, "target": target}
    if target == "gateway":
        port, path, body = targets.gateway.port, scenario.path, scenario.body
        headers = [*scenario.headers, credential(scenario, GATEWAY_KEY)]
        proc: psutil.Process | None = targets.gateway.ps
    else:
        child = targets.upstream if target == "direct" else targets.reference
        port, path, body = child.port, scenario.upstream_path, scenario.upstream_body
        headers = [*scenario.headers, credential(scenario, UPSTREAM_KEY)]
        proc = None if target == "direct" else child.ps
    request = build_request(HOST, port, path, body, headers)
    n = _counts(args, scenario, level)
    cap = args.time_cap or TIME_CAP["quick" if args.quick else "full"]
    async with Pool(HOST, port, min(level, n)) as pool:
        probe = await pool.one(request)
        if probe.status >= 400:
            row["available"] = False
            row["note"] = f"HTTP {probe.status}: {probe.body_sample.decode('utf-8', 'replace')[:160]}"
            if probe.status != 404:
                row["note"] = "error " + row["note"]
                if target == "gateway":
                    await asyncio.sleep(0.2)  # let the daemon flush its log
                    row["log_excerpt"] = targets.gateway.log_tail(25)
            return row
        row["available"] = True
        await pool.run(request, requests=max(level * 2, n // 10, 10), time_cap=cap / 2)
        await post_once(HOST, targets.upstream.port, "/__reset")
        up0, me0, sys0 = _cpu(targets.upstream.ps), time.process_time(), _machine_busy()
        cpu0 = _cpu(proc) if proc is not None else 0.0
        ksys0, switch0 = _sys_and_switches(proc)
        expect = args.chunks if scenario.stream else None
        spy = None
        if args.profile and proc is not None:
            spy = profiling.start(proc.pid, _profile_path(args, scenario, level, target))
            await asyncio.sleep(0.5)  # py-spy attaches
        sampler = asyncio.create_task(_sample_rss(proc)) if proc is not None else None
        result = await pool.run(request, requests=n, time_cap=cap, expect_deltas=expect)
        peak = await _stop_sampler(sampler)
        if spy is not None:
            row["profile_stderr"] = await asyncio.to_thread(profiling.stop, spy)
        cpu1 = _cpu(proc) if proc is not None else 0.0
        ksys1, switch1 = _sys_and_switches(proc)
        up1, me1, sys1 = _cpu(targets.upstream.ps), time.process_time(), _machine_busy()
    _, stats = await get_json(HOST, targets.upstream.port, "/__stats")
    assert isinstance(stats, dict)
    if target == "gateway":
        # Events still buffered right after the phase: a writer falling behind shows here.
        row["telemetry_pending"] = (await _telemetry(port)).get("pending")
    done = max(result.requests, 1)
    row.update(
        requests=result.requests,
        errors=result.errors,
        error_samples=result.error_samples,
        capped=result.capped,
        wall_s=result.wall_s,
        rps=result.requests / result.wall_s if result.wall_s else None,
        p50_ms=percentile(result.latencies_ms, 50),
        p99_ms=percentile(result.latencies_ms, 99),
        ttfb_p50_ms=percentile(result.ttfb_ms, 50) if scenario.stream else None,
        ttfb_p99_ms=percentile(result.ttfb_ms, 99) if scenario.stream else None,
        cpu_ms_per_req=(cpu1 - cpu0) * 1000 / done if proc is not None else None,
        # The kernel's share of that CPU, and context switches: thread hand-offs show up here.
        sys_cpu_ms_per_req=(ksys1 - ksys0) * 1000 / done if proc is not None else None,
        ctx_switches_per_req=(switch1 - switch0) / done if proc is not None else None,
        upstream_cpu_ms_per_req=(up1 - up0) * 1000 / done,
        client_cpu_ms_per_req=(me1 - me0) * 1000 / done,
        peak_rss_mib=peak,
        hwm_rss_mib=_peak_rss(proc) if proc is not None else None,
        # CPU the rest of the machine used during the phase, in % of all cores: the noise gauge.
        foreign_cpu_pct=_foreign_pct(sys1 - sys0, (cpu1 - cpu0) + (up1 - up0) + (me1 - me0), result.wall_s),
        rss_mib=_rss(proc) if proc is not None else None,
    )
    if scenario.stream:
        # Pass-through relays every upstream event; translation re-frames them, so there
        # only the content deltas are comparable. Short streams: any response != --chunks.
        compare_events = scenario.passthrough or target != "gateway"
        events_ok = result.events == stats["events_sent"] or not compare_events
        row.update(
            events_received=result.events,
            events_sent=stats["events_sent"],
            deltas_received=result.deltas,
            deltas_sent=stats["deltas_sent"],
            short_streams=result.short_streams,
            events_ok=bool(
                events_ok
                and result.deltas == stats["deltas_sent"]
                and result.short_streams == 0
                and stats["streams"] == result.requests
            ),
        )
    return row


async def _matrix(
    args: argparse.Namespace, targets: Targets, scenarios: list[Scenario]
) -> list[dict[str, Any]]:
    rows = []
    for scenario in scenarios:
        for level in args.levels:
            for target in TARGETS:
                row = await _phase(args, targets, scenario, level, target)
                _progress(row)
                rows.append(row)
    return rows


def _progress(row: dict[str, Any]) -> None:
    head = f"  {row['scenario']:<26} c={row['concurrency']:<3} {row['target']:<10}"
    if not row.get("available"):
        print(f"{head} not available: {row.get('note', '')[:90]}", file=sys.stderr, flush=True)
        return
    cpu = row.get("cpu_ms_per_req")
    extra = f" cpu {cpu:.2f} ms/req" if cpu is not None else ""
    ok = "" if row.get("events_ok", True) else " EVENTS MISSING"
    errors = f" errors {row['errors']}: {row['error_samples'][:1]}" if row["errors"] else ""
    p50 = report.fmt(row["p50_ms"])
    print(
        f"{head} n={row['requests']:<5} p50 {p50} ms  rps {report.fmt(row['rps'], 0)}{extra}{ok}{errors}",
        file=sys.stderr,
        flush=True,
    )


def _median_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (scenario, concurrency, target): numeric medians across repeats."""
    merged: list[dict[str, Any]] = []
    for rows in zip(*runs, strict=True):
        out = dict(rows[0])
        out["available"] = all(r.get("available") for r in rows)
        for key, value in rows[0].items():
            if key == "concurrency":  # identifies the row; a median of ints may be a float
                continue
            if isinstance(value, bool):
                out[key] = all(r.get(key) for r in rows)
            elif isinstance(value, int | float):
                values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
                out[key] = statistics.median(values) if values else None
        if "events_ok" in out:
            out["events_ok"] = all(r.get("events_ok") for r in rows)
        merged.append(out)
    return merged


def _meta(args: argparse.Namespace, started: float) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "daemon"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "daemon_tree_dirty": dirty,  # uncommitted changes under daemon/ were measured
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "mode": "quick" if args.quick else "full",
        "repeat": args.repeat,
        "reference": args.reference,
        "concurrency": args.levels,
        "chunks": args.chunks,
        "delay_ms": args.delay_ms,
        "duration_s": round(time.perf_counter() - started, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start everything, measure, stop everything; the report dict."""
    started = time.perf_counter()
    scenarios = [s for s in all_scenarios() if not args.scenario_names or s.name in args.scenario_names]
    tmp = Path(tempfile.mkdtemp(prefix="stackbilt-bench-"))
    children: list[Child] = []
    try:
        upstream = await _start_upstream(args, tmp)
        children.append(upstream)
        upstream_url = f"http://{HOST}:{upstream.port}"
        ref_port = free_port()
        reference = spawn(
            "reference",
            [PYTHON, "-m", REFERENCES[args.reference], "--port", str(ref_port), "--upstream", upstream_url],
            port=ref_port,
            env=child_env({"PYTHONPATH": str(ROOT)}),
            cwd=ROOT,
            log=tmp / "reference.log",
        )
        children.append(reference)
        ref_ready = await wait_ready(reference)
        gateway, gw_start = await _start_gateway(args, tmp, upstream_url)
        children.append(gateway)
        await asyncio.sleep(0.0)
        startup = {
            "gateway": gw_start,
            "reference": {
                "ready_s": [ref_ready],
                "ready_s_median": ref_ready,
                "idle_rss_mib": reference.rss_mib(),
            },
        }
        print("timing classification …", file=sys.stderr, flush=True)
        classification = await asyncio.to_thread(
            time_classification, 20 if args.quick else 200, 1.0 if args.quick else 5.0
        )
        targets = Targets(upstream, reference, gateway)
        runs = []
        for i in range(args.repeat):
            print(f"run {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
            runs.append(await _matrix(args, targets, scenarios))
        results = _median_rows(runs)
        telemetry = await _telemetry_drained(gateway.port)
        gateway_log_tail = gateway.log_tail(5)
    finally:
        for child in reversed(children):
            stop(child)
    shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, Any] = {
        "meta": _meta(args, started),
        "startup": startup,
        "classification": classification,
        "results": results,
        "telemetry": telemetry,
        "runs": runs if args.repeat > 1 else [],
        "gateway_log_tail": gateway_log_tail,
    }
    out["comparisons"] = (
        report.median_comparisons([report.comparisons(rows) for rows in runs])
        if len(runs) > 1
        else report.comparisons(results)
    )
    out["budget"] = report.budget(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    data = asyncio.run(run(args))
    markdown = report.markdown(data)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path, md_path = out_dir / f"{stamp}.json", out_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    md_path.write_text(markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
