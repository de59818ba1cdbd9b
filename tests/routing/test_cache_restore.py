"""``compose.restore``: which recorded events rebuild the prompt-cache book, and how far back."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from stackbilt_gateway.daemon.compose.restore import (
    MARGIN_SECONDS,
    replay,
    restore_caches,
    restore_producers,
    restore_tasks,
)
from stackbilt_gateway.daemon.costs.cache_state import ONE_HOUR
from stackbilt_gateway.daemon.routing.runtime import CacheBook
from stackbilt_gateway.daemon.routing.tasks import TaskBook
from stackbilt_gateway.daemon.telemetry import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import insert_events, open_db

NOW = 2_000_000.0
SONNET = ("anthropic", "claude-sonnet-4-5")
HAIKU = ("anthropic", "claude-haiku-4-5")


def event(n: int, ts: float, identity: str | None = "conv", **over: object) -> GatewayRequestEvent:
    fields: dict[str, object] = {
        "id": f"evt_{n:04d}",
        "ts": ts,
        "mode": "shadow",
        "requested_provider": SONNET[0],
        "requested_model": SONNET[1],
        "selected_provider": SONNET[0],
        "selected_model": SONNET[1],
        "would_provider": HAIKU[0],
        "would_model": HAIKU[1],
        "input_tokens": 10,
        "cache_read_tokens": 0,
        "cache_write_tokens": 5_000,
        "cache_write_1h_tokens": 5_000,
        "output_tokens": 20,
        "http_status": 200,
        "signals": {"cache_identity": identity} if identity else {},
        **over,
    }
    return GatewayRequestEvent(**fields)  # type: ignore[arg-type]


def database(tmp_path: Path, events: list[GatewayRequestEvent]) -> Path:
    path = tmp_path / "events.db"
    with closing(open_db(path)) as conn:
        insert_events(conn, events)
    return path


def test_recent_events_rebuild_both_worlds(tmp_path: Path) -> None:
    path = database(tmp_path, [event(1, NOW - 120)])
    book = CacheBook(clock=lambda: NOW)
    assert restore_caches(book, path) == 1
    actual = book.get("actual", "conv", SONNET)
    assert actual is not None and actual.tokens == 5_000 and actual.lifetime == ONE_HOUR
    assert actual.last_use == NOW - 120  # the event's time, not the restart's
    routed = book.get("shadow", "conv", HAIKU)  # the would-be route wrote its own, cold
    assert routed is not None and routed.tokens == 5_000
    assert book.get("actual", "conv", HAIKU) is None  # one model never holds another's cache


def test_old_failed_hit_and_identity_less_events_are_not_replayed(tmp_path: Path) -> None:
    too_old = NOW - ONE_HOUR - MARGIN_SECONDS - 1
    path = database(
        tmp_path,
        [
            event(1, too_old, identity="old"),
            event(2, NOW - 10, identity="failed", http_status=529, status="error"),
            event(3, NOW - 10, identity="hit", cache_status="response_hit"),
            event(4, NOW - 10, identity=None),
            event(5, NOW - 10, identity="cut", http_status=499, status="client_closed"),
        ],
    )
    book = CacheBook(clock=lambda: NOW)
    assert restore_caches(book, path) == 1  # only the cut stream: the upstream billed it
    assert book.get("actual", "cut", SONNET) is not None
    for identity in ("old", "failed", "hit"):
        assert book.get("actual", identity, SONNET) is None


def test_the_newest_events_win_the_bound(tmp_path: Path) -> None:
    path = database(tmp_path, [event(n, NOW - 100 + n, identity=f"c{n}") for n in range(10)])
    book = CacheBook(clock=lambda: NOW)
    assert restore_caches(book, path, limit=3) == 3
    assert {i for i in (f"c{n}" for n in range(10)) if book.get("actual", i, SONNET)} == {"c7", "c8", "c9"}


def test_a_missing_database_or_a_malformed_row_restores_nothing(tmp_path: Path) -> None:
    book = CacheBook(clock=lambda: NOW)
    assert restore_caches(book, tmp_path / "none.db") == 0
    assert not replay(
        book, {"identity": "x", "ts": "yesterday", "selected_provider": "a", "selected_model": "b"}
    )
    assert not replay(book, {"identity": 7, "ts": NOW, "selected_provider": "a", "selected_model": "b"})
    assert len(book) == 0


GPT = ("openai", "gpt-5.5")
MINI = ("openai", "gpt-5.4-mini")


def test_who_answered_a_codex_conversation_survives_a_restart(tmp_path: Path) -> None:
    """Live mode moved the middle task to mini: after a restart gpt-5.5 must still not be sent
    mini's reasoning items (by their position in the client's history)."""

    def answered(
        n: int, ts: float, items: int, model: tuple[str, str], **over: object
    ) -> GatewayRequestEvent:
        return event(
            n,
            ts,
            mode="live",
            requested_provider=GPT[0],
            requested_model=GPT[1],
            selected_provider=model[0],
            selected_model=model[1],
            signals={"cache_identity": "codex", "history_items": items},
            **over,
        )

    path = database(
        tmp_path,
        [
            answered(1, NOW - 7200, 0, GPT),
            answered(2, NOW - 7100, 10, MINI),
            answered(3, NOW - 7000, 20, GPT),
            answered(4, NOW - 6900, 30, MINI, http_status=500, status="error"),  # never answered
            answered(5, NOW - 2 * 86_400, 0, MINI),  # another day: not this conversation's now
        ],
    )
    tasks = TaskBook()
    assert restore_producers(tasks, path, NOW) == 3
    keep = tasks.keeper("codex", GPT, GPT)
    assert keep is not None
    assert [keep(p) for p in (0, 9, 10, 19, 20, 35)] == [True, True, False, False, True, True]
    fresh = TaskBook()
    assert restore_producers(fresh, tmp_path / "none.db", NOW) == 0
    assert fresh.keeper("codex", GPT, GPT) is None


def test_tasks_in_progress_are_put_back(tmp_path: Path) -> None:
    def step(
        n: int, ts: float, identity: str, task: str, detail: dict[str, object], **over: object
    ) -> GatewayRequestEvent:
        return event(
            n,
            ts,
            identity=None,
            task_id=task,
            decision_id=f"d-{task}",
            signals={"cache_identity": identity, "task": detail},
            **over,
        )

    live_haiku = {"mode": "live", "selected_provider": HAIKU[0], "selected_model": HAIKU[1]}
    path = database(
        tmp_path,
        [
            step(1, NOW - 600, "main", "t1", {"task": "start", "clamped": True}, **live_haiku),
            step(
                2, NOW - 590, "main", "t1", {"task": "continues on anthropic/claude-haiku-4-5"}, **live_haiku
            ),
            step(
                3, NOW - 580, "main", "t1", {"task": "continues on anthropic/claude-haiku-4-5"}, **live_haiku
            ),
            step(4, NOW - 500, "shadowed", "t2", {"task": "start"}),  # shadow: the would-be route
            step(5, NOW - 7200, "stale", "t3", {"task": "start"}),  # over an hour ago
            step(6, NOW - 400, "broken", "t4", {"task": "start"}, http_status=500, status="error"),
        ],
    )
    tasks = TaskBook()
    assert restore_tasks(tasks, path, NOW) == 2
    main = tasks.current("main")
    assert main is not None and (main.task_id, main.decision_id, main.model) == ("t1", "d-t1", HAIKU)
    assert main.requests == 3 and main.clamped and not main.fresh
    shadowed = tasks.current("shadowed")
    assert shadowed is not None and shadowed.model == HAIKU and not shadowed.clamped  # would_model
    assert tasks.current("stale") is None and tasks.current("broken") is None
    assert restore_tasks(TaskBook(), tmp_path / "none.db", NOW) == 0


def test_session_shapes_main_conversations_and_outputs_survive_a_restart(tmp_path: Path) -> None:
    """What a move is judged on comes back too: the session's requests per task, growth and output
    per request, which identity is its main conversation, and the output per model."""
    prompts = {1: 20_000, 2: 23_000, 3: 27_000, 4: 30_000, 5: 31_000, 6: 35_000, 7: 4_000}
    outputs = {1: 400, 2: 900, 3: 300, 4: 1_100, 5: 700, 6: 500, 7: 200}
    plan = [  # n, identity, task, step, seconds ago (the first task is older than an hour)
        (1, "main", "t1", "start", 5_400),
        (2, "main", "t1", "continues", 5_380),
        (3, "main", "t1", "continues", 5_360),
        (4, "main", "t1", "continues", 5_340),
        (5, "main", "t2", "start", 600),
        (6, "main", "t2", "continues", 580),
        (7, "side", "t3", "start", 500),  # no tools: a side call of the session
    ]
    rows = [
        event(
            n,
            NOW - ago,
            identity=None,
            session_id="s1",
            task_id=task,
            decision_id=f"d-{task}",
            input_tokens=prompts[n],
            cache_write_tokens=0,
            cache_write_1h_tokens=0,
            output_tokens=outputs[n],
            signals={
                "cache_identity": identity,
                "carries_tools": identity == "main",
                "task": {"task": "start" if step == "start" else "continues on anthropic/claude-haiku-4-5"},
            },
        )
        for n, identity, task, step, ago in plan
    ]
    path = database(tmp_path, rows)
    tasks = TaskBook()
    assert restore_tasks(tasks, path, NOW) == 2  # t2 and t3; t1 started over an hour ago
    shape = tasks.shape("s1", 1_000, fresh=False, single=False, lifetime=300.0)
    assert shape.requests == 4  # t1's four requests (the one finished task)
    deltas = [prompts[n + 1] - prompts[n] for n in (1, 2, 3, 5)]  # within a task
    assert shape.growth_tokens == sum(deltas) // len(deltas)
    assert shape.output_tokens == sum(outputs.values()) // len(outputs)
    average = tasks.average_output(SONNET)
    assert average is not None and round(average, 6) == round(sum(outputs.values()) / len(outputs), 6)
    # "main" is the session's main conversation: a new identity with tools and no history is a
    # subagent run, not the main conversation (a cold book would take it for one).
    assert tasks.side_context("s1", "sub", tools=True, fresh_history=True) == "subagent run"
    assert TaskBook().side_context("s1", "sub", tools=True, fresh_history=True) is None
    current = tasks.current("main")
    assert current is not None and current.task_id == "t2" and current.requests == 2
