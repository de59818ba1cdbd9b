"""Known telemetry for the dashboard tests: events written straight into the gateway's store,
with the totals each view must show."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from stackbilt_gateway.daemon.telemetry.events import FallbackAttempt, GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import insert_events, open_db

DAY = 86_400.0


def _today(seconds_ago: float) -> float:
    """A timestamp today (never before local midnight, whatever the time of day)."""
    midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return max(time.time() - seconds_ago, midnight + 1)


def seeded_events() -> list[GatewayRequestEvent]:
    sonnet, opus = "claude-sonnet-4-5", "claude-opus-5"
    return [
        # Today: a tool-loop turn riding a warm cache (routing it would cost money: negative savings).
        GatewayRequestEvent(
            ts=_today(50),
            client="claude-code",
            route_class="tool_loop",
            confidence=0.95,
            mode="shadow",
            requested_provider="anthropic",
            requested_model=sonnet,
            selected_provider="anthropic",
            selected_model=sonnet,
            would_provider="anthropic",
            would_model=sonnet,
            fallback_chain=[FallbackAttempt("anthropic", sonnet, "ok")],
            input_tokens=2_000,
            output_tokens=800,
            cache_read_tokens=50_000,
            cache_write_tokens=1_000,
            cost_usd=1.25,
            would_cost_usd=1.50,
            savings_usd=-0.25,
            latency_ms=900.0,
            ttfb_ms=300.0,
            # served at a lower effort (routing.effort): its own, estimated kind of saving
            signals={
                "has_tool_result": True,
                "est_tokens": 53_000,
                "effort_lowered": "medium -> low",
                "effort_saving_usd": 0.05,
            },
        ),
        # Today: a session title, which live mode would send to Groq.
        GatewayRequestEvent(
            ts=_today(40),
            client="claude-code",
            route_class="background",
            confidence=0.9,
            mode="shadow",
            requested_provider="anthropic",
            requested_model=opus,
            selected_provider="anthropic",
            selected_model=opus,
            would_provider="groq",
            would_model="llama-3.1-8b-instant",
            fallback_chain=[FallbackAttempt("anthropic", opus, "ok")],
            input_tokens=900,
            output_tokens=20,
            cost_usd=0.50,
            would_cost_usd=0.10,
            savings_usd=0.40,
            latency_ms=400.0,
            signals={"is_title_request": True},
        ),
        # Today, live: Groq failed, Cerebras answered (a fallback).
        GatewayRequestEvent(
            ts=_today(30),
            client="codex",
            protocol="chat",
            route_class="summary",
            confidence=0.7,
            mode="live",
            requested_provider="openai",
            requested_model="gpt-5.4",
            selected_provider="cerebras",
            selected_model="gpt-oss-120b",
            would_provider="groq",
            would_model="llama-3.1-8b-instant",
            fallback_chain=[
                FallbackAttempt("groq", "llama-3.1-8b-instant", "error", "upstream_server"),
                FallbackAttempt("cerebras", "gpt-oss-120b", "ok"),
            ],
            input_tokens=4_000,
            output_tokens=500,
            cost_usd=0.25,
            would_cost_usd=1.00,
            savings_usd=0.75,
            latency_ms=700.0,
            signals={"keywords": {"summary": ["summarize"]}},
        ),
        # Today: an upstream error.
        GatewayRequestEvent(
            ts=_today(20),
            client="claude-code",
            route_class="fallback_safe",
            confidence=0.3,
            mode="shadow",
            requested_provider="anthropic",
            requested_model=sonnet,
            selected_provider="anthropic",
            selected_model=sonnet,
            status="error",
            http_status=529,
            error_class="overloaded",
            error_message="Overloaded",
            fallback_chain=[FallbackAttempt("anthropic", sonnet, "error", "overloaded")],
        ),
        # Three days ago and twenty days ago: history for the 7- and 30-day charts.
        GatewayRequestEvent(
            ts=time.time() - 3 * DAY,
            client="claude-code",
            route_class="cheap_edit",
            confidence=0.7,
            mode="shadow",
            requested_provider="anthropic",
            requested_model=sonnet,
            selected_provider="anthropic",
            selected_model=sonnet,
            would_provider="groq",
            would_model="openai/gpt-oss-120b",
            input_tokens=3_000,
            output_tokens=200,
            cost_usd=2.00,
            would_cost_usd=0.50,
            savings_usd=1.50,
            latency_ms=1200.0,
        ),
        GatewayRequestEvent(
            ts=time.time() - 20 * DAY,
            client="codex",
            route_class="code_draft",
            confidence=0.7,
            mode="shadow",
            requested_provider="openai",
            requested_model="gpt-5.4",
            selected_provider="openai",
            selected_model="gpt-5.4",
            would_provider="groq",
            would_model="openai/gpt-oss-120b",
            input_tokens=10_000,
            output_tokens=2_000,
            cost_usd=4.00,
            would_cost_usd=1.00,
            savings_usd=3.00,
            latency_ms=2500.0,
        ),
    ]


# What the Overview must show for each range (requests, spend, savings).
# Realised (live) savings lead the card whenever there are any; projected (shadow) savings are
# shown beside them, never added to them.
EXPECTED = {
    "today": {"requests": "4", "spend": "$2.00", "savings": "+$0.75", "projected": "+$0.15"},
    "7d": {"requests": "5", "spend": "$4.00", "savings": "+$0.75", "projected": "+$1.65"},
    "30d": {"requests": "6", "spend": "$8.00", "savings": "+$0.75", "projected": "+$4.65"},
}


def seed(database: Path) -> list[GatewayRequestEvent]:
    events = seeded_events()
    conn = open_db(database)
    try:
        insert_events(conn, events)
    finally:
        conn.close()
    return events
