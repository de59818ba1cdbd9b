"""Read-side queries against a small hand-built event set with hand-computed sums."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.telemetry import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.queries import aggregates, recent, shadow_stats, totals
from stackbilt_gateway.daemon.telemetry.store import DAY, insert_events, open_db

T0 = datetime(2026, 11, 20, 12, 0).timestamp()  # local noon: day buckets are stable


def ev(i: int, **kw: object) -> GatewayRequestEvent:
    base: dict[str, object] = {
        "id": f"e{i}",
        "ts": T0 + i,
        "client": "claude-code",
        "mode": "shadow",
        "route_class": "tool_loop",
        "confidence": 0.95,
        "requested_provider": "anthropic",
        "requested_model": "claude-opus-5",
        "selected_provider": "anthropic",
        "selected_model": "claude-opus-5",
        "would_provider": "anthropic",
        "would_model": "claude-opus-5",
    }
    base.update(kw)
    return GatewayRequestEvent(**base)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.sqlite"
    events = [
        ev(0, input_tokens=100, output_tokens=10, cache_read_tokens=1000, cache_write_tokens=300,
           cache_write_1h_tokens=200, cost_usd=0.5,
           would_cost_usd=0.5, savings_usd=0.0),
        ev(1, route_class="background", confidence=0.9, input_tokens=50, output_tokens=5, cost_usd=0.2,
           would_provider="groq", would_model="llama-3.1-8b-instant", would_cost_usd=0.01, savings_usd=0.19),
        ev(2, route_class="background", confidence=0.7, input_tokens=60, output_tokens=6, cost_usd=0.3,
           would_provider="cerebras", would_model="gpt-oss-120b", would_cost_usd=0.02, savings_usd=0.28),
        ev(3, route_class="background", confidence=0.8, input_tokens=70, output_tokens=7, cost_usd=0.1,
           would_provider="groq", would_model="llama-3.1-8b-instant", would_cost_usd=0.005,
           savings_usd=0.095),
        ev(4, client="codex", mode="live", route_class="summary", confidence=0.7,
           requested_provider="openai", requested_model="gpt-5.5", selected_provider="openai",
           selected_model="gpt-5.4-mini", would_provider="openai", would_model="gpt-5.4-mini",
           input_tokens=1000, output_tokens=100, cache_write_tokens=10, cost_usd=0.05,
           would_cost_usd=0.4, savings_usd=0.35),
        ev(5, ts=T0 + DAY, status="error", error_class="rate_limited", cost_usd=None,
           selected_provider="anthropic", selected_model="claude-opus-5"),
    ]  # fmt: skip
    conn = open_db(path)
    try:
        insert_events(conn, events)
    finally:
        conn.close()
    return path


def test_recent_is_newest_first_with_filters_and_paging(db: Path) -> None:
    assert [r["id"] for r in recent(db)] == ["e5", "e4", "e3", "e2", "e1", "e0"]
    assert [r["id"] for r in recent(db, limit=2, offset=1)] == ["e4", "e3"]
    assert [r["id"] for r in recent(db, client="codex")] == ["e4"]
    assert [r["id"] for r in recent(db, provider="openai")] == ["e4"]
    assert [r["id"] for r in recent(db, route_class="background")] == ["e3", "e2", "e1"]
    assert [r["id"] for r in recent(db, status="error")] == ["e5"]
    assert [r["id"] for r in recent(db, since=T0 + 4)] == ["e5", "e4"]
    row = recent(db, client="codex")[0]
    assert row["signals"] == {} and row["fallback_chain"] == [] and row["usage_estimated"] is False
    first = recent(db)[-1]
    assert (first["id"], first["cache_write_tokens"], first["cache_write_1h_tokens"]) == ("e0", 300, 200)


def test_aggregates_by_provider(db: Path) -> None:
    rows = {r["key"]: r for r in aggregates(db, "provider")}
    anth = rows["anthropic"]
    assert anth["requests"] == 5
    assert anth["input_tokens"] == 100 + 50 + 60 + 70
    assert anth["cache_read_tokens"] == 1000
    assert anth["cost_usd"] == pytest.approx(0.5 + 0.2 + 0.3 + 0.1)
    assert anth["would_cost_usd"] == pytest.approx(0.5 + 0.01 + 0.02 + 0.005)
    assert anth["savings_usd"] == pytest.approx(0.19 + 0.28 + 0.095)
    assert anth["errors"] == 1
    assert rows["openai"]["cache_write_tokens"] == 10
    assert (anth["cache_write_tokens"], anth["cache_write_1h_tokens"]) == (300, 200)
    assert rows["openai"]["cache_write_1h_tokens"] == 0
    assert [r["key"] for r in aggregates(db, "provider")] == ["anthropic", "openai"]  # by cost


def test_aggregates_by_model_class_client_and_day(db: Path) -> None:
    assert {r["key"] for r in aggregates(db, "model")} == {"anthropic/claude-opus-5", "openai/gpt-5.4-mini"}
    classes = {r["key"]: r["requests"] for r in aggregates(db, "route_class")}
    assert classes == {"tool_loop": 2, "background": 3, "summary": 1}
    clients = {r["key"]: r["output_tokens"] for r in aggregates(db, "client")}
    assert clients == {"claude-code": 28, "codex": 100}
    days = aggregates(db, "day")
    assert [(r["key"], r["requests"]) for r in days] == [("2026-11-20", 5), ("2026-11-21", 1)]
    assert aggregates(db, "day", since=T0 + DAY)[0]["key"] == "2026-11-21"
    with pytest.raises(ValueError, match="cannot group by"):
        aggregates(db, "repo")  # type: ignore[arg-type]


def test_totals(db: Path) -> None:
    t = totals(db)
    assert t["requests"] == 6
    assert t["input_tokens"] == 1280
    assert (t["cache_write_tokens"], t["cache_write_1h_tokens"]) == (310, 200)
    assert t["cost_usd"] == pytest.approx(1.15)
    assert t["savings_usd"] == pytest.approx(0.915)
    assert totals(db, since=T0 + DAY)["requests"] == 1


def test_shadow_stats(db: Path) -> None:
    stats = {s["route_class"]: s for s in shadow_stats(db)}
    assert set(stats) == {"background", "tool_loop"}  # live events are not shadow stats
    bg = stats["background"]
    assert bg["count"] == 3
    assert bg["would_route"] == {"groq/llama-3.1-8b-instant": 2, "cerebras/gpt-oss-120b": 1}
    assert bg["projected_savings_usd"] == pytest.approx(0.565)
    assert bg["mean_confidence"] == pytest.approx(0.8)
    assert stats["tool_loop"]["count"] == 2
    assert stats["tool_loop"]["would_route"] == {"anthropic/claude-opus-5": 2}


def test_empty_or_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    assert recent(missing) == [] and aggregates(missing, "provider") == [] and shadow_stats(missing) == []
    assert totals(missing)["requests"] == 0 and totals(missing)["cache_write_1h_tokens"] == 0
