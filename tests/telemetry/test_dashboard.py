"""The dashboard's read views (``telemetry.dashboard``) against five hand-built events with
hand-computed answers: the zero-filled series and its calendar window, savings by mode, route
classes, per-provider health, the filter facets, and empty answers for a missing database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.telemetry import FallbackAttempt, GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.dashboard import (
    bucket_keys,
    calendar_start,
    facets,
    providers,
    routes,
    savings_by_mode,
    series,
)
from stackbilt_gateway.daemon.telemetry.store import DAY, insert_events, open_db

NOON = datetime(2026, 11, 20, 12, 0).timestamp()  # local time: buckets are stable
NOW = datetime(2026, 11, 20, 14, 1).timestamp()
MIDNIGHT = datetime(2026, 11, 20).timestamp()
SONNET, LLAMA = "claude-sonnet-4-5", "llama-3.1-8b-instant"
ZERO = {
    "requests": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cache_read_tokens": 0,
    "cache_write_tokens": 0,
    "cache_write_1h_tokens": 0,
    "cost_usd": 0.0,
    "would_cost_usd": 0.0,
    "savings_usd": 0.0,
    "savings_projected_usd": 0.0,
    "savings_realised_usd": 0.0,
    "errors": 0,
    "savings_effort_usd": 0.0,
}


def _events() -> list[GatewayRequestEvent]:
    anthropic: dict[str, Any] = {
        "selected_provider": "anthropic",
        "selected_model": SONNET,
        "requested_provider": "anthropic",
    }
    return [
        GatewayRequestEvent(  # yesterday noon
            id="e1",
            ts=NOON - DAY,
            route_class="cheap_edit",
            confidence=0.8,
            would_provider="groq",
            would_model=LLAMA,
            input_tokens=100,
            cost_usd=2.0,
            would_cost_usd=0.5,
            savings_usd=1.5,
            latency_ms=1000.0,
            **anthropic,
        ),
        GatewayRequestEvent(  # today 12:00
            id="e2",
            ts=NOON + 10,
            client="claude-code",
            route_class="tool_loop",
            confidence=0.9,
            would_provider="anthropic",
            would_model=SONNET,
            input_tokens=10,
            cache_write_tokens=40,
            cache_write_1h_tokens=30,
            cost_usd=1.0,
            would_cost_usd=1.25,
            savings_usd=-0.25,
            latency_ms=400.0,
            ttfb_ms=100.0,
            prompt="never read",
            **anthropic,
        ),
        GatewayRequestEvent(  # today 13:00, live: Groq failed, Cerebras answered
            id="e3",
            ts=NOON + 3600 + 5,
            client="codex",
            mode="live",
            route_class="summary",
            confidence=0.6,
            requested_provider="openai",
            selected_provider="cerebras",
            selected_model="gpt-oss-120b",
            would_provider="groq",
            would_model=LLAMA,
            fallback_chain=[
                FallbackAttempt("groq", LLAMA, "error", "upstream_server"),
                FallbackAttempt("cerebras", "gpt-oss-120b", "ok"),
            ],
            output_tokens=7,
            cost_usd=0.25,
            would_cost_usd=1.0,
            savings_usd=0.75,
            latency_ms=700.0,
            ttfb_ms=200.0,
        ),
        GatewayRequestEvent(  # today 13:00, an upstream error, unclassified
            id="e4",
            ts=NOON + 3600 + 50,
            client="claude-code",
            status="error",
            error_class="overloaded",
            error_message="Overloaded",
            latency_ms=50.0,
            fallback_chain=[FallbackAttempt("anthropic", SONNET, "error", "overloaded")],
            **anthropic,
        ),
        GatewayRequestEvent(  # today 14:00
            id="e5",
            ts=NOON + 7200,
            client="codex",
            route_class="tool_loop",
            confidence=0.7,
            would_provider="groq",
            would_model=LLAMA,
            cache_read_tokens=1000,
            cost_usd=3.0,
            would_cost_usd=1.0,
            savings_usd=2.0,
            latency_ms=600.0,
            ttfb_ms=300.0,
            **anthropic,
        ),
    ]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.sqlite"
    conn = open_db(path)
    try:
        insert_events(conn, _events())
    finally:
        conn.close()
    return path


def test_calendar_windows() -> None:
    assert calendar_start(1, NOW) == MIDNIGHT
    assert calendar_start(7, NOW) == datetime(2026, 11, 14).timestamp()
    assert bucket_keys("hour", MIDNIGHT, NOW) == [f"2026-11-20 {h:02d}:00" for h in range(15)]
    assert bucket_keys("day", calendar_start(3, NOW), NOW) == ["2026-11-18", "2026-11-19", "2026-11-20"]


def test_hourly_series_of_today_is_zero_filled(db: Path) -> None:
    points = series(db, bucket="hour", since=MIDNIGHT, now=NOW)
    assert [p["key"] for p in points] == [f"2026-11-20 {h:02d}:00" for h in range(15)]
    assert points[0] == {"key": "2026-11-20 00:00", **ZERO}
    assert points[12] == {
        **ZERO,
        "key": "2026-11-20 12:00",
        "requests": 1,
        "input_tokens": 10,
        "cache_write_tokens": 40,
        "cache_write_1h_tokens": 30,
        "cost_usd": 1.0,
        "would_cost_usd": 1.25,
        "savings_usd": -0.25,
        "savings_projected_usd": -0.25,
    }
    assert points[13] == {
        **ZERO,
        "key": "2026-11-20 13:00",
        "requests": 2,
        "output_tokens": 7,
        "cost_usd": 0.25,
        "would_cost_usd": 1.0,
        "savings_usd": 0.75,
        "savings_realised_usd": 0.75,
        "errors": 1,
    }
    assert points[14]["requests"] == 1 and points[14]["cache_read_tokens"] == 1000
    assert sum(p["requests"] for p in points) == 4  # yesterday's event is outside the window


def test_daily_series_over_a_week(db: Path) -> None:
    points = series(db, bucket="day", since=calendar_start(7, NOW), now=NOW)
    assert [p["key"] for p in points] == [f"2026-11-{d}" for d in range(14, 21)]
    by_day = {p["key"]: p for p in points}
    assert by_day["2026-11-19"]["requests"] == 1 and by_day["2026-11-19"]["cost_usd"] == 2.0
    today = by_day["2026-11-20"]
    assert (today["requests"], today["errors"]) == (4, 1)
    assert today["cost_usd"] == pytest.approx(4.25) and today["savings_usd"] == pytest.approx(2.5)
    assert by_day["2026-11-14"] == {"key": "2026-11-14", **ZERO}


def test_savings_are_split_by_serving_mode(db: Path) -> None:
    assert savings_by_mode(db, since=None) == pytest.approx(
        {"projected_usd": 3.25, "realised_usd": 0.75, "shadow_requests": 4.0, "live_requests": 1.0}
    )
    assert savings_by_mode(db, since=MIDNIGHT) == pytest.approx(
        {"projected_usd": 1.75, "realised_usd": 0.75, "shadow_requests": 3.0, "live_requests": 1.0}
    )


def test_route_classes_with_served_and_would_route_counts(db: Path) -> None:
    rows = routes(db, since=0.0)
    assert [r["route_class"] for r in rows] == ["tool_loop", "cheap_edit", "summary", "unclassified"]
    tool_loop = rows[0]
    assert tool_loop == {
        "requests": 2,
        "mean_confidence": pytest.approx(0.8),
        "cost_usd": 4.0,
        "savings_projected_usd": 1.75,
        "savings_realised_usd": 0.0,
        "charged_back_usd": 0.0,
        "live_requests": 0,
        "route_class": "tool_loop",
        "served": {f"anthropic/{SONNET}": 2},
        "would": {f"anthropic/{SONNET}": 1, f"groq/{LLAMA}": 1},
    }
    assert list(tool_loop["would"]) == [f"anthropic/{SONNET}", f"groq/{LLAMA}"]  # ties by name
    summary = rows[2]
    assert summary["live_requests"] == 1 and summary["served"] == {"cerebras/gpt-oss-120b": 1}
    assert summary["savings_realised_usd"] == pytest.approx(0.75) and summary["savings_projected_usd"] == 0
    assert rows[3]["mean_confidence"] is None and rows[3]["would"] == {}
    assert [r["route_class"] for r in routes(db, since=MIDNIGHT)] == ["tool_loop", "summary", "unclassified"]


def test_provider_health_from_events_and_fallback_attempts(db: Path) -> None:
    stats = providers(db, since=0.0)
    assert list(stats) == ["anthropic", "cerebras", "groq"]  # first seen, newest event first
    anthropic = stats["anthropic"]
    assert (anthropic["requests"], anthropic["errors"], anthropic["failed_attempts"]) == (4, 1, 1)
    assert anthropic["error_rate"] == 0.25 and anthropic["cost_usd"] == 6.0
    assert anthropic["last_error"] == {"ts": NOON + 3600 + 50, "class": "overloaded", "message": "Overloaded"}
    assert anthropic["latency_ms"] == {"mean": pytest.approx(2000 / 3), "p50": 600.0, "p95": 1000.0}
    assert anthropic["ttfb_ms"] == {"mean": 200.0}
    assert stats["cerebras"] == {
        "requests": 1,
        "errors": 0,
        "failed_attempts": 0,
        "last_error": None,
        "cost_usd": 0.25,
        "error_rate": 0.0,
        "latency_ms": {"mean": 700.0, "p50": 700.0, "p95": 700.0},
        "ttfb_ms": {"mean": 200.0},
    }
    assert stats["groq"] == {
        "requests": 0,
        "errors": 0,
        "failed_attempts": 1,
        "last_error": {"ts": NOON + 3600 + 5, "class": "upstream_server", "message": None},
        "cost_usd": 0.0,
        "error_rate": None,
        "latency_ms": {"mean": None, "p50": None, "p95": None},
        "ttfb_ms": {"mean": None},
    }
    assert list(providers(db, since=NOON + 3600 * 2)) == ["anthropic"]


def test_facets_list_distinct_values(db: Path) -> None:
    assert facets(db) == {
        "client": ["claude-code", "codex", "unknown"],
        "provider": ["anthropic", "cerebras"],
        "route_class": ["cheap_edit", "summary", "tool_loop"],
        "status": ["error", "ok"],
    }


@pytest.mark.parametrize("kind", ["missing", "no events table"])
def test_a_missing_database_reads_as_empty(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "t.sqlite"
    if kind == "no events table":
        path.write_bytes(b"")  # an empty file is an empty SQLite database
    points = series(path, bucket="hour", since=MIDNIGHT + 12 * 3600, now=NOW)
    assert points == [{"key": f"2026-11-20 {h}:00", **ZERO} for h in (12, 13, 14)]
    assert savings_by_mode(path, since=None) == {
        "projected_usd": 0.0,
        "realised_usd": 0.0,
        "shadow_requests": 0.0,
        "live_requests": 0.0,
    }
    assert routes(path, since=0.0) == [] and providers(path, since=0.0) == {}
    assert facets(path) == {"client": [], "provider": [], "route_class": [], "status": []}
