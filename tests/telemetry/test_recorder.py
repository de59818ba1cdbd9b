"""Finishing a record: session memory at once (``compose.settle``), the event itself (costs and
savings included, ``telemetry.recorder``) just after the handler returns, with the time and
latency of the request's end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from stackbilt_gateway.daemon.compose.settle import Settle
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.context import RequestRecord
from stackbilt_gateway.daemon.routing.runtime import Router
from stackbilt_gateway.daemon.telemetry import EventWriter
from stackbilt_gateway.daemon.telemetry.queries import recent
from stackbilt_gateway.daemon.telemetry.recorder import Recorder

MODEL = ("anthropic", "claude-opus-5-5")


def _record(request_id: str, session: str) -> RequestRecord:
    record = RequestRecord(request_id, "anthropic", provider=MODEL[0], upstream_model=MODEL[1])
    record.usage.input_tokens, record.usage.output_tokens = 1_000_000, 100_000
    ctx = record.context
    ctx.client, ctx.session, ctx.mode, ctx.requested, ctx.would = (
        "claude-code",
        session,
        "shadow",
        MODEL,
        ("groq", "x"),
    )
    return record


async def test_the_event_is_built_after_the_handler_with_the_request_end_time(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    router = Router.from_config(Config())
    writer = EventWriter(path)
    record = _record("req_a", "s-1")
    record.on_finish = Settle(router, Recorder(router.prices, writer))
    record.finish(200)
    # Nothing built or handed over yet: costs are computed once the handler has returned …
    assert writer.pending == 0
    # … but the session memory moved at once (the next turn depends on it).
    state = router.sessions.get("s-1")
    assert state is not None and state.provider == "anthropic"
    time.sleep(0.1)  # noqa: ASYNC251 - the handler goes on (without yielding) sending its response
    await asyncio.sleep(0)
    assert writer.pending == 1
    writer.start()
    assert writer.flush(5)
    writer.close()
    [row] = recent(path)
    # The event carries the end's time and latency, not the build's.
    assert record.finished_at is not None and abs(row["ts"] - record.finished_at) < 0.01
    assert row["latency_ms"] == round(record.latency_ms, 2) and row["latency_ms"] < 80
    # Costs: 1M input at $4 + 100k output at $20 per million tokens.
    assert row["cost_usd"] == 6.0
    assert row["selected_provider"] == "anthropic" and row["would_provider"] == "groq"


def test_off_the_loop_it_is_built_at_once_and_a_bad_record_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path)
    recorder = Recorder(Router.from_config(Config()).prices, writer)
    broken = _record("req_bad", "s-2")
    broken.context.requested = 42  # type: ignore[assignment]  # not a pair: building raises
    broken.on_finish = recorder
    broken.finish(200)
    good = _record("req_ok", "s-2")
    good.on_finish = recorder
    good.finish(200)
    assert recorder.failed == 1 and writer.pending == 1
    writer.close()
    assert [r["id"] for r in recent(path)] == ["req_ok"]
