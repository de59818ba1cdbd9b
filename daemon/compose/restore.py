"""A restarted daemon's prompt-cache book, rebuilt from the events it recorded.

Prompt caches outlive the daemon: a conversation whose Sonnet prefix was written a minute before
a restart is still warm upstream, and a detour's re-write is still owed. ``restore_caches`` reads
the recent events (``telemetry.queries.cache_rows``: the last hour plus a margin — no prefix lives
longer — that reached an upstream and carry a cache identity) and replays each, oldest first, into
``routing.runtime.CacheBook.advance`` exactly as ``compose.settle`` did when it was served: what
the upstream billed moves the world that happened, the request on the other model (the requested
one in live mode, the would-be route in shadow mode) moves the other world, and the last move of
each identity is remembered (a re-write owed after the restart is charged back to it).

``restore_producers`` does the same for who answered at which point of a Codex conversation in
live mode (``routing.tasks.TaskBook.produced``) from the last day's events: reasoning items stay
in a conversation's history for as long as it runs, and after a restart the gateway must still
keep another model's reasoning items away from the requested one.

``restore_tasks`` replays the last day's task requests through the task book as they were planned
and settled: each session's main conversation (so a subagent's first request after a restart is
still a fresh context), the session shapes a move is judged on (requests per task, growth and
output per request), the output per model the effort estimate compares against, and each
identity's task in progress (its ids, the model that serves it — or, in shadow mode, would —
whether it is a fresh context, its lowered effort), so a tool loop that was moved before a
restart goes on on the same model after it. Tasks that started over an hour ago are not put back.

Runs once before the daemon serves (in a worker thread). Bounded: at most ``MAX_EVENTS`` events
each. Reads no prompts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..costs.cache_state import ONE_HOUR, ModelRef, marks_of
from ..costs.counterfactual import other_model
from ..routing.runtime import CacheBook
from ..routing.tasks import TaskBook
from ..telemetry.events import row_usage
from ..telemetry.queries import cache_rows, producer_rows, task_rows

MAX_EVENTS = 20_000
PRODUCERS_SECONDS = 24 * 3600.0
# Events a little older than the longest lifetime still decide nothing alive, but a clock step
# between the event and now should not drop a prefix that is.
MARGIN_SECONDS = 300.0


def _json(value: object) -> object:
    """A JSON value SQLite's ``json_extract`` returned as text (None when it is not JSON)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _ref(provider: object, model: object) -> ModelRef | None:
    return (provider, model) if isinstance(provider, str) and isinstance(model, str) else None


def replay(book: CacheBook, row: Mapping[str, Any]) -> bool:
    """One recorded event into ``book``; False when the row cannot be replayed."""
    identity, served = row.get("identity"), _ref(row.get("selected_provider"), row.get("selected_model"))
    ts = row.get("ts")
    if not isinstance(identity, str) or served is None or not isinstance(ts, int | float):
        return False
    usage = row_usage(row)
    mode = str(row.get("mode") or "shadow")
    requested = _ref(row.get("requested_provider"), row.get("requested_model"))
    would = _ref(row.get("would_provider"), row.get("would_model"))
    other = other_model(mode, served, requested, would)
    marks = marks_of(_json(row.get("marks")))
    route_class = row.get("route_class")
    book.advance(
        mode,
        identity,
        served,
        other,
        usage,
        float(ts),
        marks,
        request_id=str(row.get("id") or ""),
        route_class=route_class if isinstance(route_class, str) else None,
    )
    return True


def restore_caches(book: CacheBook, db_path: Path, *, limit: int = MAX_EVENTS) -> int:
    """Replay the recent events of ``db_path`` into ``book``; how many were replayed (blocking)."""
    since = book.clock() - ONE_HOUR - MARGIN_SECONDS
    return sum(replay(book, row) for row in cache_rows(db_path, since=since, limit=limit))


def restore_producers(tasks: TaskBook, db_path: Path, now: float, *, limit: int = MAX_EVENTS) -> int:
    """Replay who answered each live Responses request of the last day into ``tasks``; how many
    were replayed (blocking)."""
    replayed = 0
    for row in producer_rows(db_path, since=now - PRODUCERS_SECONDS, limit=limit):
        identity, items = row.get("identity"), row.get("items")
        served = _ref(row.get("selected_provider"), row.get("selected_model"))
        if isinstance(identity, str) and served is not None and type(items) is int and items >= 0:
            tasks.produced(identity, items, served)
            replayed += 1
    return replayed


def restore_tasks(tasks: TaskBook, db_path: Path, now: float, *, limit: int = MAX_EVENTS) -> int:
    """Replay the last day's task requests into ``tasks`` as they were planned and settled: each
    session's main conversation, its learned shape (requests per task, growth and output per
    request), the output per model at the clients' own effort, and the task each identity is in.
    Tasks that started over an hour ago are dropped again. How many tasks the book holds then
    (blocking)."""
    for n, row in enumerate(task_rows(db_path, since=now - PRODUCERS_SECONDS, limit=limit)):
        _replay_task(tasks, row, n, now)
    tasks.forget_started_before(now - ONE_HOUR)
    return len(tasks)


def _replay_task(tasks: TaskBook, row: Mapping[str, Any], n: int, now: float) -> None:
    """One recorded task request: what ``routing.taskplan`` and ``compose.settle`` did to the book."""
    identity, task_id, decision_id = row.get("identity"), row.get("task_id"), row.get("decision_id")
    if not (isinstance(identity, str) and isinstance(task_id, str) and isinstance(decision_id, str)):
        return
    session = row.get("session_id") if isinstance(row.get("session_id"), str) else None
    live = row.get("mode") == "live"
    served = _ref(row.get("selected_provider"), row.get("selected_model"))
    effort = row.get("effort")
    lowered = effort.split(" -> ") if isinstance(effort, str) and " -> " in effort else None
    if row.get("step") == "start":
        would = _ref(row.get("would_provider"), row.get("would_model"))
        requested = _ref(row.get("requested_provider"), row.get("requested_model"))
        model = served if live else (would or requested or served)
        if model is None:
            return
        tasks.side_context(session, identity, tools=row.get("tools") in (1, True), fresh_history=False)
        task = tasks.start(
            identity,
            session,
            model,
            fresh=row.get("fresh") in (1, True),
            now=float(row.get("ts") or now),
            clamped=row.get("clamped") in (1, True),
        )
        task.task_id, task.decision_id = task_id, decision_id
        if lowered and live:
            task.effort_from, task.effort = lowered[0], lowered[1]
    else:
        current = tasks.current(identity)
        if current is None or current.task_id != task_id:
            return
        if row.get("retry") not in (1, True):
            tasks.follow(identity, (-n - 1, -1))  # a signature no client request has
        # The task follows what served it (live: a fallback) or where it would go (shadow).
        moved = served if live else _ref(row.get("would_provider"), row.get("would_model"))
        if moved is not None:
            tasks.served(identity, task_id, moved)
    usage = row_usage(row)
    tasks.observe(session, usage.total_input_tokens, usage.output_tokens, identity)
    if served is not None and not (lowered and live):
        tasks.note_output(served, usage.output_tokens)
