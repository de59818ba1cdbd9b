"""Tasks: a user turn and its tool loop, decided once and served by one model.

``TaskBook`` remembers, per cache identity (a conversation, or a subagent's own context), the task
in progress — its id, the decision that chose its model, the model — and per session what a task
has looked like so far (requests per task, prompt growth, output per request: the ``TaskShape`` a
move is judged on), and which identity is the session's main conversation (the first one that
offered tools: any later fresh context with tools in the same session is a subagent).

Also the holdout draw (``in_holdout``: a fixed share of sessions, by the session id's hash) and
the facts the holdout comparison needs (a client retry: the same request again). Bounded LRUs,
thread-safe (the recorder settles from the event loop, but tests drive it from threads).
Does not decide (``runtime``/``policy``) nor price (``costs.switching``).
"""

from __future__ import annotations

import hashlib
import uuid
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from threading import Lock
from typing import Generic, TypeVar

from ..costs.cache_state import ModelRef
from ..costs.switching import TaskShape

# Priors for a session with no finished task yet (Claude Code- and Codex-shaped sessions).
PRIOR_REQUESTS_MAIN = 5
PRIOR_REQUESTS_FRESH = 8
PRIOR_GROWTH_TOKENS = 1_500
PRIOR_OUTPUT_TOKENS = 600
PRIOR_SECONDS_PER_REQUEST = 20.0
# Learned averages are capped so one huge task does not dominate.
MAX_REQUESTS = 40

K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def in_holdout(session: str | None, fraction: float) -> bool:
    """True for the share ``fraction`` of sessions (by a stable hash of the id); never without one."""
    if not session or fraction <= 0:
        return False
    digest = hashlib.blake2b(session.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


@dataclass(slots=True)
class Task:
    task_id: str
    decision_id: str
    # Who serves the task (live mode), or would (shadow mode).
    model: ModelRef
    fresh: bool
    started: float
    # The task's model takes the request's max_tokens only clamped (its class allowed that).
    clamped: bool = False
    # The lower effort the task is served at, and the one its client asked for (None: as asked).
    effort: str | None = None
    effort_from: str | None = None
    requests: int = 1
    # (messages, estimated tokens) of the latest request: the same again is a client retry.
    last: tuple[int, int] = (0, 0)
    last_prompt: int = 0


@dataclass(slots=True)
class _Shape:
    """Running sums of the session's finished tasks and requests."""

    tasks: int = 0
    task_requests: int = 0
    growth_sum: int = 0
    growth_count: int = 0
    output_sum: int = 0
    output_count: int = 0


# Model changes remembered per identity for reasoning items (older ones: the requested model's).
MAX_PRODUCERS = 64


class TaskBook:
    def __init__(self, capacity: int = 20_000) -> None:
        self._producers: _Lru[str, list[tuple[int, ModelRef]]] = _Lru(capacity)
        # Per model: (requests, output tokens) of requests served at the client's own effort.
        self._outputs: _Lru[ModelRef, tuple[int, int]] = _Lru(1_000)
        self._tasks: _Lru[str, Task] = _Lru(capacity)
        self._shapes: _Lru[str, _Shape] = _Lru(capacity)
        self._main: _Lru[str, str] = _Lru(capacity)
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._tasks)

    def snapshot(self) -> TaskBook:
        """An independent copy (a dry run decides on it and leaves this book as it was)."""
        copy = TaskBook()
        with self._lock:
            copy._producers._items.update((k, list(v)) for k, v in self._producers._items.items())
            copy._tasks._items.update((k, replace(v)) for k, v in self._tasks._items.items())
            copy._shapes._items.update((k, replace(v)) for k, v in self._shapes._items.items())
            copy._main._items.update(self._main._items)
        return copy

    def current(self, identity: str) -> Task | None:
        with self._lock:
            return self._tasks.get(identity)

    def side_context(
        self, session: str | None, identity: str, *, tools: bool, fresh_history: bool
    ) -> str | None:
        """What a request that shares no cache with its session's main conversation is, or None.

        The first tool-carrying identity of a session becomes its main conversation. Another
        identity with tools and no history yet is a subagent run; another identity without tools
        (a compaction request that rewrote the prefix, a side question) is a side call. A new
        identity with tools and a history is the main conversation whose tools changed: not
        a fresh context."""
        if not session:
            return None
        with self._lock:
            main = self._main.get(session)
            if main is None:
                if tools:
                    self._main.put(session, identity)
                return None
        if main == identity:
            return None
        if tools:
            return "subagent run" if fresh_history else None
        return "side call (no tools, its own prefix: e.g. a compaction)"

    def is_subagent(self, session: str | None, identity: str, *, tools: bool, fresh_history: bool) -> bool:
        """A fresh context with tools in a session whose main conversation is another identity."""
        kind = self.side_context(session, identity, tools=tools, fresh_history=fresh_history)
        return kind == "subagent run"

    def start(
        self,
        identity: str,
        session: str | None,
        model: ModelRef,
        *,
        fresh: bool,
        now: float,
        clamped: bool = False,
    ) -> Task:
        """A new task on ``identity``; the previous one (if any) counts as finished."""
        with self._lock:
            old = self._tasks.get(identity)
            if old is not None and session:
                shape = self._shapes.get(session) or _Shape()
                shape.tasks += 1
                shape.task_requests += min(old.requests, MAX_REQUESTS)
                self._shapes.put(session, shape)
            task = Task(new_id(), new_id(), model, fresh, now, clamped)
            self._tasks.put(identity, task)
            return task

    def forget_started_before(self, cutoff: float) -> int:
        """Drop the tasks that started before ``cutoff`` (a restart puts back only recent ones);
        how many were dropped. Their sessions' shapes stay."""
        with self._lock:
            old = [key for key, task in self._tasks._items.items() if task.started < cutoff]
            for key in old:
                del self._tasks._items[key]
        return len(old)

    def follow(self, identity: str, signature: tuple[int, int]) -> tuple[Task | None, bool]:
        """The request continues the identity's task: (the task, is it a client retry)."""
        with self._lock:
            task = self._tasks.get(identity)
            if task is None:
                return None, False
            retry = signature == task.last
            if not retry:
                task.requests += 1
            task.last = signature
            return task, retry

    def mark(self, task: Task, signature: tuple[int, int]) -> None:
        with self._lock:
            task.last = signature

    def served(self, identity: str, task_id: str, model: ModelRef) -> None:
        """The task's request was served by ``model`` (a fallback moves the task with it)."""
        with self._lock:
            task = self._tasks.get(identity)
            if task is not None and task.task_id == task_id:
                task.model = model

    def note_output(self, model: ModelRef, tokens: int) -> None:
        """A request served at the client's own effort answered with ``tokens`` output tokens."""
        with self._lock:
            count, total = self._outputs.get(model) or (0, 0)
            self._outputs.put(model, (count + 1, total + max(0, tokens)))

    def average_output(self, model: ModelRef) -> float | None:
        """Output tokens per request on ``model`` at the clients' own effort (None: none seen)."""
        with self._lock:
            seen = self._outputs.get(model)
        return seen[1] / seen[0] if seen else None

    def produced(self, identity: str, items: int, model: ModelRef) -> None:
        """``model`` answered a request whose input had ``items`` items: what it adds to the
        client's history (its reasoning items) starts at that position."""
        with self._lock:
            changes = self._producers.get(identity)
            if changes is None:
                changes = []
                self._producers.put(identity, changes)
            if changes and (changes[-1][1] == model or items < changes[-1][0]):
                return
            changes.append((items, model))
            del changes[:-MAX_PRODUCERS]

    def keeper(self, identity: str, target: ModelRef, requested: ModelRef) -> Callable[[int], bool] | None:
        """Which reasoning items (by client position) ``target`` may read: those it produced.
        None when that is all of them (no body edit)."""
        with self._lock:
            changes = list(self._producers.get(identity) or ())
        if not changes or (
            all(model == target for _, model in changes) and (changes[0][0] == 0 or target == requested)
        ):
            return None
        starts = [start for start, _ in changes]

        def keep(position: int) -> bool:
            at = bisect_right(starts, position) - 1
            producer = changes[at][1] if at >= 0 else requested
            return producer == target

        return keep

    def observe(self, session: str | None, prompt_tokens: int, output_tokens: int, identity: str) -> None:
        """Learn growth and output per request from a finished request of a task."""
        if not session:
            return
        with self._lock:
            shape = self._shapes.get(session) or _Shape()
            task = self._tasks.get(identity)
            if task is not None and task.last_prompt and prompt_tokens > task.last_prompt:
                shape.growth_sum += prompt_tokens - task.last_prompt
                shape.growth_count += 1
            if task is not None:
                task.last_prompt = prompt_tokens
            if output_tokens > 0:
                shape.output_sum += output_tokens
                shape.output_count += 1
            self._shapes.put(session, shape)

    def shape(
        self, session: str | None, prefix_tokens: int, *, fresh: bool, single: bool, lifetime: float
    ) -> TaskShape:
        """The expected task from this request on (``single``: a one-request call, e.g. a title)."""
        with self._lock:
            learned = self._shapes.get(session) if session else None
        requests = PRIOR_REQUESTS_FRESH if fresh else PRIOR_REQUESTS_MAIN
        growth, output = PRIOR_GROWTH_TOKENS, PRIOR_OUTPUT_TOKENS
        if learned is not None:
            if learned.tasks and not fresh:
                requests = max(1, round(learned.task_requests / learned.tasks))
            if learned.growth_count:
                growth = learned.growth_sum // learned.growth_count
            if learned.output_count:
                output = learned.output_sum // learned.output_count
        if single:
            requests = 1
        return TaskShape(
            prefix_tokens=prefix_tokens,
            requests=requests,
            growth_tokens=growth,
            output_tokens=output,
            seconds=requests * PRIOR_SECONDS_PER_REQUEST,
            lifetime=lifetime,
        )
