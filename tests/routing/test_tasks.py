"""Tasks: decided once per user turn, the session's main conversation, reasoning-item ownership."""

from __future__ import annotations

from stackbilt_gateway.daemon.routing.tasks import TaskBook, in_holdout

BIG = ("openai", "gpt-5.5")
MINI = ("openai", "gpt-5.4-mini")


def test_the_first_tool_carrying_identity_is_the_main_conversation() -> None:
    book = TaskBook()
    assert not book.is_subagent("s", "main", tools=True, fresh_history=True)
    assert book.is_subagent("s", "sub", tools=True, fresh_history=True)
    assert not book.is_subagent("s", "sub", tools=True, fresh_history=False)  # mid-run: not a start
    assert not book.is_subagent("s", "title", tools=False, fresh_history=True)
    assert not book.is_subagent(None, "x", tools=True, fresh_history=True)


def test_reasoning_items_are_kept_only_for_the_model_that_made_them() -> None:
    book = TaskBook()
    assert book.keeper("id", BIG, BIG) is None  # nothing known: no edit
    book.produced("id", 0, BIG)
    book.produced("id", 5, BIG)  # same model: no new change recorded
    assert book.keeper("id", BIG, BIG) is None  # only its own items: no edit
    keep_mini = book.keeper("id", MINI, BIG)
    assert keep_mini is not None and not keep_mini(3)
    book.produced("id", 10, MINI)
    book.produced("id", 14, BIG)
    keep_big = book.keeper("id", BIG, BIG)
    assert keep_big is not None
    assert [keep_big(i) for i in (0, 9, 10, 13, 14, 20)] == [True, True, False, False, True, True]
    keep_mini = book.keeper("id", MINI, BIG)
    assert keep_mini is not None
    assert [keep_mini(i) for i in (2, 11, 15)] == [False, True, False]


def test_positions_before_the_first_known_answer_belong_to_the_requested_model() -> None:
    book = TaskBook()
    book.produced("id", 6, MINI)
    keep = book.keeper("id", MINI, BIG)
    assert keep is not None and not keep(2) and keep(7)


def test_a_new_task_finishes_the_old_one_and_the_shape_learns_requests_per_task() -> None:
    book = TaskBook()
    task = book.start("id", "s", BIG, fresh=False, now=0.0)
    for n in range(2, 6):
        got, retry = book.follow("id", (n, n * 100))
        assert got is task and not retry
    assert book.follow("id", (5, 500)) == (task, True)  # the same request again: a client retry
    book.start("id", "s", BIG, fresh=False, now=10.0)
    assert book.shape("s", 1000, fresh=False, single=False, lifetime=300).requests == 5
    assert book.shape("s", 1000, fresh=False, single=True, lifetime=300).requests == 1


def test_the_holdout_is_a_stable_share_of_sessions() -> None:
    ids = [f"session-{i}" for i in range(4000)]
    held = [i for i in ids if in_holdout(i, 0.1)]
    assert 300 < len(held) < 500
    assert held == [i for i in ids if in_holdout(i, 0.1)]
    assert not in_holdout(None, 0.5) and not any(in_holdout(i, 0.0) for i in ids[:50])


def test_effort_is_lowered_only_below_what_the_client_asked() -> None:
    from stackbilt_gateway.daemon.routing.effort import lowered

    assert lowered("medium", "low") == "low"
    assert lowered("high", "minimal") == "minimal"
    assert lowered("low", "medium") is None  # never raised
    assert lowered("low", "low") is None
    assert lowered(None, "low") is None  # nothing added
    assert lowered("turbo", "low") is None and lowered("high", None) is None


def test_a_side_call_without_tools_on_its_own_prefix_is_a_fresh_context() -> None:
    book = TaskBook()
    assert book.side_context("s", "title", tools=False, fresh_history=True) is None  # no main yet
    assert book.side_context("s", "main", tools=True, fresh_history=True) is None  # becomes main
    assert book.side_context("s", "main", tools=True, fresh_history=False) is None
    compaction = book.side_context("s", "compact", tools=False, fresh_history=False)
    assert compaction is not None and "compaction" in compaction
    assert book.side_context("s", "sub", tools=True, fresh_history=True) == "subagent run"
    # the main conversation's tools changed: a new identity with a history, not a fresh context
    assert book.side_context("s", "main-new-tools", tools=True, fresh_history=False) is None
