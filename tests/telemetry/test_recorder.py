"""The recorder: session memory and breakers on the event loop, the event itself (costs and
savings included) built on the writer thread, with the time and latency of the request's end."""

from __future__ import annotations

import time
from pathlib import Path

from stackbilt_gateway.daemon.config import Config
from stackbilt_gateway.daemon.execute.common import RequestRecord
from stackbilt_gateway.daemon.routing.runtime import Router
from stackbilt_gateway.daemon.telemetry import EventWriter
from stackbilt_gateway.daemon.telemetry.queries import recent
from stackbilt_gateway.daemon.telemetry.recorder import PendingEvent, Recorder

MODEL = ("anthropic", "claude-opus-5-5")


def _record(request_id: str, session: str) -> RequestRecord:
    record = RequestRecord(request_id, "anthropic", provider=MODEL[0], upstream_model=MODEL[1])
    record.usage.input_tokens, record.usage.output_tokens = 1_000_000, 100_000
    record.context.update(
        client="claude-code", session=session, mode="shadow", requested=MODEL, would=("groq", "x")
    )
    return record


def test_the_event_is_built_on_the_writer_thread_with_the_request_end_time(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    router = Router.from_config(Config())
    writer = EventWriter(path, linger=0.3)
    recorder = Recorder(router, writer)
    record = _record("req_a", "s-1")
    record.on_finish = recorder
    record.finish(200)
    # Only a pending item is handed over: no event, no cost computed on the caller's thread.
    assert [type(item) for item in writer._buffer] == [PendingEvent]
    # The session memory moved on the caller's thread, right away (the next turn sees it).
    state = router.sessions.get("s-1")
    assert state is not None and state.provider == "anthropic"
    time.sleep(0.2)  # written well after the request ended …
    writer.start()
    assert writer.flush(5)
    writer.close()
    [row] = recent(path)
    # … yet the event carries the end's time and latency, not the write's.
    assert record.finished_at is not None and abs(row["ts"] - record.finished_at) < 0.01
    assert row["latency_ms"] == round(record.latency_ms, 2) and row["latency_ms"] < 150
    # Costs were computed (on the writer thread): 1M input at $4 + 100k output at $20 per M.
    assert row["cost_usd"] == 6.0
    assert row["selected_provider"] == "anthropic" and row["would_provider"] == "groq"


def test_a_record_that_cannot_be_built_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    router = Router.from_config(Config())
    writer = EventWriter(path)
    broken = _record("req_bad", "s-2")
    broken.context["requested"] = 42  # not a (provider, model) pair: building raises
    writer.emit(PendingEvent(broken, router, None))
    writer.emit(PendingEvent(_record("req_ok", "s-2"), router, None))
    writer.close()
    assert writer.failed == 1 and writer.written == 1
    assert [r["id"] for r in recent(path)] == ["req_ok"]
