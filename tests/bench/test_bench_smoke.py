"""Smoke test of the benchmark harness: one tiny scenario end to end, no timing assertions.

Runs ``python -m bench.run --quick`` restricted to the Anthropic pass-through stream with a
handful of requests (fake upstream, reference proxy and the real daemon as subprocesses on
loopback), then checks the JSON report's shape and that every SSE event and content delta the
fake upstream sent reached the client through each target. Timings are never asserted: they
belong to the benchmark, not to CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_quick_run_reports_every_event(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--scenario",
            "anthropic_stream",
            "--requests",
            "6",
            "--starts",
            "1",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [json_file] = tmp_path.glob("*.json")
    assert json_file.with_suffix(".md").is_file()
    data = json.loads(json_file.read_text())

    assert {"meta", "startup", "classification", "results", "comparisons", "budget"} <= data.keys()
    assert {"ready_s", "ready_s_median", "idle_rss_mib"} <= data["startup"]["gateway"].keys()
    assert "available" in data["classification"]

    rows = data["results"]
    assert {(r["target"], r["concurrency"]) for r in rows} == {
        (t, c) for t in ("direct", "reference", "gateway") for c in (1, 32)
    }
    for row in rows:
        assert row["scenario"] == "anthropic_stream"
        assert row["available"], row.get("note")
        for key in ("requests", "errors", "p50_ms", "p99_ms", "ttfb_p50_ms", "rps", "cpu_ms_per_req"):
            assert key in row, key
        assert row["requests"] == 6 and row["errors"] == 0
        assert row["deltas_received"] == row["deltas_sent"] == 6 * data["meta"]["chunks"]
        assert row["events_received"] == row["events_sent"]
        assert row["short_streams"] == 0 and row["events_ok"]
    # Every request the gateway answered was recorded: nothing dropped, nothing left buffered.
    telemetry = data["telemetry"]
    assert telemetry["dropped"] == 0 and telemetry["pending"] == 0
    assert telemetry["written"] >= sum(r["requests"] for r in rows if r["target"] == "gateway")
    assert any(c["check"].startswith("telemetry:") and c["verdict"] == "pass" for c in data["budget"])
    for comp in data["comparisons"]:
        assert {"gateway_added_p50_ms", "gateway_ttfb_added_ms", "cpu_ratio_gateway_reference"} <= comp.keys()
