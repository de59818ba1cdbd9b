"""The telemetry writer against anything one event can contain: numbers beyond SQLite's range,
NaN and infinities, lone surrogates, objects, and rows that cannot be stored at all. Each event
is written (converted) or, alone, counted as failed; its batch and the thread survive. A dead
or stuck writer says so (``problem``, what ``/health`` reports) and ``close`` logs every loss."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.queries import recent
from stackbilt_gateway.daemon.telemetry.store import NUMBER_LIMIT, safe_value
from stackbilt_gateway.daemon.telemetry.writer import EventWriter

LIMIT = float(NUMBER_LIMIT)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Printable:
    def __str__(self) -> str:
        return "printable \ud800 thing"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (10**20, NUMBER_LIMIT),
        (-(10**30), -NUMBER_LIMIT),
        (2**63, NUMBER_LIMIT),
        (123, 123),
        (True, True),
        (float("inf"), LIMIT),
        (float("-inf"), -LIMIT),
        (1e300, LIMIT),
        (0.25, 0.25),
        (Decimal("1e400"), LIMIT),
        (Decimal("2.5"), 2.5),
        ("plain", "plain"),
        ("héllo ✓", "héllo ✓"),
        ("bad \ud800 text", "bad \ufffd text"),
        ("\ud83d\ude00", "\U0001f600"),  # a valid pair as two code points: joined
        (b"\x00raw", b"\x00raw"),
        (None, None),
        (Printable(), "printable \ufffd thing"),
        (Unprintable(), "<Unprintable>"),
        ([1, 2], "[1, 2]"),
        (1j, "1j"),
    ],
)
def test_safe_value_makes_anything_storable(value: object, stored: object) -> None:
    assert safe_value(value) == stored
    assert type(safe_value(value)) is type(stored)


def test_safe_value_turns_nan_into_null() -> None:
    assert safe_value(float("nan")) is None
    assert safe_value(Decimal("NaN")) is None


def _written(writer: EventWriter, path: Path) -> dict[str, dict[str, Any]]:
    assert writer.flush(10)
    return {row["id"]: row for row in recent(path, limit=500)}


def test_hostile_values_in_a_batch_are_stored_converted_and_the_thread_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, linger=0.2)
    writer.start()
    try:
        for i in range(10):
            writer.emit(GatewayRequestEvent(id=f"ok{i}", input_tokens=i))
        writer.emit(GatewayRequestEvent(id="huge", input_tokens=10**20, output_tokens=-(10**25)))
        writer.emit(
            GatewayRequestEvent(
                id="floats",
                cost_usd=float("inf"),
                would_cost_usd=float("-inf"),
                savings_usd=float("nan"),
                latency_ms=1e300,
            )
        )
        writer.emit(
            GatewayRequestEvent(
                id="text",
                error_message="upstream said \ud800 sk-ant-api03-AAAAAAAAAAAAAAAAAAAA",
                repo="re\udfffpo",
                signals={"note": "\ud800"},
            )
        )
        writer.emit(GatewayRequestEvent(id="objects", branch=Printable(), http_status=Decimal(404)))  # type: ignore[arg-type]
        rows = _written(writer, path)
        assert (writer.written, writer.failed, writer.dropped) == (14, 0, 0)
        assert {f"ok{i}" for i in range(10)} <= rows.keys()
        assert (rows["huge"]["input_tokens"], rows["huge"]["output_tokens"]) == (NUMBER_LIMIT, -NUMBER_LIMIT)
        floats = rows["floats"]
        assert (floats["cost_usd"], floats["would_cost_usd"], floats["latency_ms"]) == (LIMIT, -LIMIT, LIMIT)
        assert floats["savings_usd"] is None
        text = rows["text"]
        assert text["error_message"] == "upstream said \ufffd sk-ant-***"  # replaced and redacted
        assert text["repo"] == "re\ufffdpo"
        assert text["signals"] == {"note": "\ud800"}  # JSON escapes it: stored as ASCII, read back
        assert rows["objects"]["branch"] == "printable \ufffd thing"
        assert rows["objects"]["http_status"] == 404
        # Later events are written too, in the ordinary way.
        writer.emit(GatewayRequestEvent(id="later"))
        assert "later" in _written(writer, path)
        assert writer.problem() is None
    finally:
        writer.close()


def test_a_bad_event_costs_only_itself_not_its_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A timestamp that is NaN cannot be stored at all (NULL in a NOT NULL column): that event
    is counted as failed; the 30 others of its batch are written."""
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, linger=0.2)
    writer.start()
    try:
        for i in range(30):
            writer.emit(GatewayRequestEvent(id=f"e{i:02d}", error_message="bad \ud800" if i % 3 else None))
            if i == 12:
                writer.emit(GatewayRequestEvent(id="broken", ts=math.nan))
        rows = _written(writer, path)
        assert (writer.written, writer.failed, writer.dropped) == (30, 1, 0)
        assert sorted(rows) == [f"e{i:02d}" for i in range(30)]
        assert "event 'broken' not written" in caplog.text
        writer.emit(GatewayRequestEvent(id="after"))
        assert "after" in _written(writer, path) and writer.problem() is None
    finally:
        writer.close()
    assert "1 failed to write" in caplog.text  # the loss is logged at stop


def test_the_redacted_prompt_is_stored_when_opted_in_whatever_it_contains(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, store_prompts=True)
    writer.start()
    try:
        writer.emit(GatewayRequestEvent(id="p", prompt="key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA and \ud800"))
        assert _written(writer, path)["p"]["prompt"] == "key sk-ant-*** and \ufffd"
    finally:
        writer.close()


def test_a_writer_whose_thread_is_gone_says_so_and_logs_the_loss_at_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    writer = EventWriter(blocker / "t.sqlite")
    assert writer.problem() == "telemetry writer not started"
    writer.start()
    deadline = time.monotonic() + 5
    while writer._thread is not None and writer._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(3):
        writer.emit(GatewayRequestEvent())
    problem = writer.problem()
    assert problem is not None and problem.startswith("telemetry writer stopped: ")
    assert problem.endswith("; 3 events waiting")
    with caplog.at_level(logging.WARNING):
        writer.close()
    assert "0 dropped (buffer full or closed), 0 failed to write, 3 left in the buffer" in caplog.text
    assert writer.problem() == "telemetry writer closed"


def test_a_writer_that_cannot_drain_is_stuck_until_it_can(tmp_path: Path) -> None:
    """Another connection holds the write lock (less than the 5 s busy timeout): the events wait,
    the writer reports itself stuck, then writes them all once the lock goes."""
    path = tmp_path / "t.sqlite"
    writer = EventWriter(path, stall_after=0.3, linger=0.01)
    writer.start()
    try:
        writer.emit(GatewayRequestEvent(id="first"))
        assert "first" in _written(writer, path)
        blocker = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            writer.emit(GatewayRequestEvent(id="waits"))
            time.sleep(0.1)  # the thread takes it and blocks in the insert
            writer.emit(GatewayRequestEvent(id="queued"))
            deadline = time.monotonic() + 3
            while writer.problem() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            problem = writer.problem()
            assert problem is not None and problem.startswith("telemetry writer stuck: 1 events waiting")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert {"first", "waits", "queued"} <= _written(writer, path).keys()
        assert writer.problem() is None and (writer.written, writer.failed) == (3, 0)
    finally:
        writer.close()
