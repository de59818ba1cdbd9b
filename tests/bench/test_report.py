"""The benchmark report's arithmetic: same-run ratios and their medians across repeats."""

from __future__ import annotations

from typing import Any

from bench import report


def _rows(ref_cpu: float, gw_cpu: float, ref_ttfb: float, gw_ttfb: float) -> list[dict[str, Any]]:
    base = {"scenario": "agent_200k", "concurrency": 1, "available": True, "p50_ms": 1.0, "p99_ms": 2.0}
    return [
        {**base, "target": "direct", "cpu_ms_per_req": 0.5, "ttfb_p50_ms": 0.5, "rps": 900.0},
        {**base, "target": "reference", "cpu_ms_per_req": ref_cpu, "ttfb_p50_ms": ref_ttfb, "rps": 400.0},
        {**base, "target": "gateway", "cpu_ms_per_req": gw_cpu, "ttfb_p50_ms": gw_ttfb, "rps": 300.0},
    ]


def test_one_run_compares_the_targets_of_that_run() -> None:
    [comp] = report.comparisons(_rows(2.0, 3.0, 1.5, 2.0))
    assert comp["cpu_ratio_gateway_reference"] == 1.5
    assert comp["gateway_ttfb_added_ms"] == 1.5 and comp["reference_ttfb_added_ms"] == 1.0
    assert comp["gateway_available"] is True


def test_repeats_take_the_median_of_same_run_ratios_not_the_ratio_of_medians() -> None:
    runs = [_rows(1.0, 1.2, 1.0, 1.1), _rows(4.0, 4.4, 1.0, 1.3), _rows(2.0, 4.0, 1.0, 1.2)]
    [comp] = report.median_comparisons([report.comparisons(r) for r in runs])
    # Same-run ratios 1.2, 1.1, 2.0 -> median 1.2; medians 2.0 and 4.0 would have given 2.0.
    assert comp["cpu_ratio_gateway_reference"] == 1.2
    assert abs(comp["gateway_ttfb_added_ms"] - 0.7) < 1e-9
    assert comp["scenario"] == "agent_200k" and comp["concurrency"] == 1
    assert comp["gateway_available"] is True and comp["events_ok"] is True


def test_a_run_without_the_gateway_makes_the_cell_unavailable() -> None:
    down = _rows(1.0, 1.0, 1.0, 1.0)
    down[2] = {**down[2], "available": False, "cpu_ms_per_req": None}
    [comp] = report.median_comparisons(
        [report.comparisons(_rows(1.0, 1.1, 1.0, 1.0)), report.comparisons(down)]
    )
    assert comp["gateway_available"] is False
    assert comp["cpu_ratio_gateway_reference"] == 1.1  # the one run that measured it


def _data(reference: str) -> dict[str, Any]:
    rows = _rows(2.0, 3.2, 1.5, 2.7)
    return {
        "meta": {"reference": reference},
        "results": rows,
        "comparisons": report.comparisons(rows),
        "startup": {"gateway": {"idle_rss_mib": 70.0, "ready_s_median": 0.6}},
    }


def test_budget_shows_what_the_reference_alone_added_and_checks_the_cpu_ratio() -> None:
    checks = {c["check"]: c for c in report.budget(_data("stack"))}
    ttfb = checks["agent_200k c=1: TTFB added ms"]
    assert (ttfb["value"], ttfb["reference"], ttfb["verdict"]) == (2.2, 1.0, "FAIL")
    cpu = checks["agent_200k c=1: CPU gateway/reference"]
    assert abs(cpu["value"] - 1.6) < 1e-9 and cpu["verdict"] == "FAIL"
    assert checks["gateway idle RSS MiB"]["verdict"] == "pass"


def test_the_floor_in_the_reference_seat_is_never_a_cpu_verdict() -> None:
    checks = [c["check"] for c in report.budget(_data("floor"))]
    assert not any("CPU gateway/reference" in c for c in checks)
    assert "agent_200k c=1: TTFB added ms" in checks
