"""The cache-aware task cost, checked against the tests' own cost function (tests.costs.reference)."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.costs.cache_state import ONE_HOUR, CacheState
from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.costs.switching import TaskShape, assess_move, task_cost
from tests.costs.reference import Buckets, reference_cost

BOOK = load_pricebook()
OPUS = ("anthropic", "claude-opus-4-6")
SONNET = ("anthropic", "claude-sonnet-4-6")
HAIKU = ("anthropic", "claude-haiku-4-5")
GPT = ("openai", "gpt-5.5")
MINI = ("openai", "gpt-5.4-mini")
NOW = 10_000.0


def explicit_reference(model: tuple[str, str], shape: TaskShape, warm: int, one_hour: bool = False) -> float:
    """The task priced request by request from the rules: first request reads what is warm and
    writes the rest, later ones read the previous prompt and write the growth."""
    total, previous = 0.0, 0
    for k in range(shape.requests):
        prompt = shape.prefix_tokens + k * shape.growth_tokens
        read = min(warm, prompt) if k == 0 else previous
        written = prompt - read
        buckets = Buckets(
            write_1h=written if one_hour else 0,
            write_5m=0 if one_hour else written,
            read=read,
            output=shape.output_tokens,
        )
        total += reference_cost(model[0], model[1], buckets)
        previous = prompt
    return total


def automatic_reference(model: tuple[str, str], shape: TaskShape, warm: int) -> float:
    total, previous = 0.0, 0
    for k in range(shape.requests):
        prompt = shape.prefix_tokens + k * shape.growth_tokens
        cached = min(warm, prompt - prompt % 128) if k == 0 else previous - previous % 128
        buckets = Buckets(uncached=prompt - cached, read=cached, output=shape.output_tokens)
        total += reference_cost(model[0], model[1], buckets)
        previous = prompt
    return total


SHAPE = TaskShape(prefix_tokens=100_000, requests=5, growth_tokens=2_000, output_tokens=1_500, seconds=100)


@pytest.mark.parametrize("model", [OPUS, SONNET, HAIKU])
@pytest.mark.parametrize("warm", [0, 100_000])
def test_task_cost_matches_the_rules_on_explicit_caches(model: tuple[str, str], warm: int) -> None:
    state = CacheState(warm, 300.0, NOW - 10) if warm else None
    got = task_cost(BOOK, model, state, SHAPE, NOW).total
    assert got == pytest.approx(explicit_reference(model, SHAPE, warm), rel=1e-9)


def test_task_cost_prices_one_hour_writes_when_the_client_asks_for_them() -> None:
    shape = TaskShape(prefix_tokens=50_000, requests=3, growth_tokens=1_000, lifetime=ONE_HOUR)
    got = task_cost(BOOK, SONNET, None, shape, NOW).total
    assert got == pytest.approx(explicit_reference(SONNET, shape, 0, one_hour=True), rel=1e-9)


@pytest.mark.parametrize("warm", [0, 99_968])
def test_task_cost_matches_the_rules_on_automatic_caches(warm: int) -> None:
    state = CacheState(warm, 300.0, NOW - 10) if warm else None
    got = task_cost(BOOK, GPT, state, SHAPE, NOW).total
    assert got == pytest.approx(automatic_reference(GPT, SHAPE, warm), rel=1e-9)


def test_an_expired_cache_is_cold() -> None:
    dead = CacheState(100_000, 300.0, NOW - 301)
    assert task_cost(BOOK, OPUS, dead, SHAPE, NOW).total == pytest.approx(explicit_reference(OPUS, SHAPE, 0))


def test_a_single_turn_off_a_warm_cache_loses_even_to_a_five_times_cheaper_model() -> None:
    one = TaskShape(prefix_tokens=100_000, requests=1, output_tokens=1_500)
    warm_opus = CacheState(100_000, 300.0, NOW - 5)
    for target in (SONNET, HAIKU):
        verdict = assess_move(BOOK, OPUS, warm_opus, target, None, one, NOW)
        assert not verdict.pays and verdict.saving < 0
        assert verdict.cold_write > 0
        assert "loses" in verdict.why(f"{target[0]}/{target[1]}")


def test_a_fresh_context_moves_because_nothing_is_warm_on_either_side() -> None:
    verdict = assess_move(BOOK, OPUS, None, SONNET, None, SHAPE, NOW)
    assert verdict.pays
    assert verdict.saving == pytest.approx(
        explicit_reference(OPUS, SHAPE, 0) - explicit_reference(SONNET, SHAPE, 0)
    )


def test_the_requested_cache_lost_while_away_is_charged_to_the_move() -> None:
    warm = CacheState(100_000, 300.0, NOW - 250)  # 50 s left, the task takes 100 s
    verdict = assess_move(BOOK, OPUS, warm, HAIKU, None, SHAPE, NOW)
    rewrite = reference_cost("anthropic", "claude-opus-4-6", Buckets(write_5m=100_000))
    read = reference_cost("anthropic", "claude-opus-4-6", Buckets(read=100_000))
    assert verdict.consequence == pytest.approx(rewrite - read)
    long_lived = CacheState(100_000, ONE_HOUR, NOW - 250)
    assert assess_move(BOOK, OPUS, long_lived, HAIKU, None, SHAPE, NOW).consequence == 0


def test_an_openai_move_to_mini_pays_over_a_task_and_the_numbers_say_why() -> None:
    warm = CacheState(99_968, 300.0, NOW - 5)
    verdict = assess_move(BOOK, GPT, warm, MINI, None, SHAPE, NOW)
    expected = automatic_reference(GPT, SHAPE, 99_968) - automatic_reference(MINI, SHAPE, 0)
    assert verdict.saving == pytest.approx(expected, rel=1e-9)
    assert verdict.pays and verdict.why("openai/gpt-5.4-mini").startswith("saves $")


def test_a_cold_main_conversation_move_only_postpones_the_re_write() -> None:
    """The requested cache is cold (idle past its lifetime): staying writes the prompt now and
    reads it on the next task; moving leaves the next task on the requested model to write the
    prompt as it has grown. A conversation that comes back is charged that; a fresh context
    (a subagent, a title) is not."""
    shape = TaskShape(prefix_tokens=100_000, requests=3, growth_tokens=2_000, output_tokens=300, seconds=60)
    expired = CacheState(100_000, 300.0, NOW - 400)
    back = assess_move(BOOK, OPUS, expired, HAIKU, None, shape, NOW, returns=True)
    grown = 100_000 + 3 * 2_000
    rewrite = reference_cost(*OPUS, Buckets(write_5m=grown)) - reference_cost(*OPUS, Buckets(read=grown))
    assert back.consequence == pytest.approx(rewrite)
    assert not back.pays and "requested model's cache lost" in back.why("anthropic/claude-haiku-4-5")
    fresh = assess_move(BOOK, OPUS, expired, HAIKU, None, shape, NOW)
    assert fresh.consequence == 0 and fresh.pays
    # never cached at all (below Opus's minimum): nothing to re-write on return
    tiny = TaskShape(prefix_tokens=1_000, requests=1, output_tokens=200)
    assert assess_move(BOOK, OPUS, None, HAIKU, None, tiny, NOW, returns=True).consequence == 0
    # warm and outliving the task: nothing lost either way
    warm = CacheState(100_000, ONE_HOUR, NOW - 5)
    assert assess_move(BOOK, OPUS, warm, HAIKU, None, shape, NOW, returns=True).consequence == 0
