"""Time request parsing and classification of a ~200 KB Claude Code-shaped request.

Owns the in-process timing of the daemon's JSON body parser (``core.jsonfast``), then
``adapters.anthropic_request.parse_request``, then ``routing.classify.classify(req, client=...)``
on the agent request of ``bench.scenarios``, each step separately (median and p99 over a
bounded number of iterations). When the classifier is not importable yet, the result says
"not available" instead of failing.
"""

from __future__ import annotations

import importlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from .scenarios import agent_request


def _time(fn: Callable[[], Any], iterations: int, time_cap: float) -> dict[str, float]:
    samples: list[float] = []
    deadline = time.perf_counter() + time_cap
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() > deadline:
            break
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "n": len(samples),
    }


def time_classification(iterations: int = 200, time_cap: float = 5.0) -> dict[str, Any]:
    """Per-step timings; ``available`` is False with a ``note`` when a step cannot run."""
    body, _ = agent_request()
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    out: dict[str, Any] = {"available": False, "body_bytes": len(raw), "client": "claude-code"}
    try:  # the daemon's own body parser (orjson), else the standard library's
        jsonfast = importlib.import_module("stackbilt_gateway.daemon.core.jsonfast")
        loads: Callable[[bytes], Any] = jsonfast.loads
        out["json_loader"] = "daemon core.jsonfast"
    except (ImportError, AttributeError):
        loads, out["json_loader"] = json.loads, "json"
    out["json_loads"] = _time(lambda: loads(raw), iterations, time_cap)
    try:
        adapter = importlib.import_module("stackbilt_gateway.daemon.wires.anthropic.request")
        parse_request = adapter.parse_request
    except (ImportError, AttributeError) as exc:
        out["note"] = f"parse_request not available ({exc})"
        return out
    parsed = json.loads(raw)
    try:
        request = parse_request(parsed)
    except Exception as exc:  # report, never crash the benchmark
        out["note"] = f"parse_request failed: {type(exc).__name__}: {exc}"
        return out
    # The pipeline hands the same dict to parse_request and later to the executors, so
    # parse_request does not consume its input: timing it on one dict is faithful.
    out["parse_request"] = _time(lambda: parse_request(parsed), iterations, time_cap)
    try:
        classify = importlib.import_module("stackbilt_gateway.daemon.routing.classify").classify
    except (ImportError, AttributeError) as exc:
        out["note"] = f"classifier not available ({type(exc).__name__}: {exc})"
        return out
    try:
        decision = classify(request, client="claude-code")
    except Exception as exc:
        out["note"] = f"classify failed: {type(exc).__name__}: {exc}"
        return out
    out["classify"] = _time(lambda: classify(request, client="claude-code"), iterations, time_cap)
    out["decision"] = repr(decision)[:300]
    out["available"] = True
    return out
