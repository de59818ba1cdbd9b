"""The prompt-cache model's rules as properties: per-model caches, lifetimes, refresh on hit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs.cache_state import (
    FIVE_MINUTES,
    ONE_HOUR,
    CacheState,
    automatic_prefix,
    cache_identity,
    min_cacheable_tokens,
    observe,
    readable,
)
from stackbilt_gateway.daemon.costs.counterfactual import step, usage_on
from stackbilt_gateway.daemon.routing.runtime import CacheBook

SONNET = ("anthropic", "claude-sonnet-4-5")
HAIKU = ("anthropic", "claude-haiku-4-5")
OPUS = ("anthropic", "claude-opus-4-5")
GPT = ("openai", "gpt-5.5")
MINI = ("openai", "gpt-5.4-mini")
MODELS = st.sampled_from([SONNET, HAIKU, OPUS, GPT, MINI])

tokens = st.integers(min_value=0, max_value=400_000)
times = st.floats(min_value=0, max_value=10 * ONE_HOUR, allow_nan=False)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    written = draw(tokens)
    return Usage(
        input_tokens=draw(tokens),
        cache_read_tokens=draw(tokens),
        cache_write_tokens=written,
        cache_write_1h_tokens=draw(st.integers(min_value=0, max_value=written)),
        output_tokens=draw(st.integers(min_value=0, max_value=20_000)),
    )


states = st.builds(CacheState, tokens, st.sampled_from([FIVE_MINUTES, ONE_HOUR]), times).map(
    lambda s: s if s.tokens else None
)


@given(MODELS, MODELS, usages(), st.one_of(st.none(), states), times)
def test_a_model_never_reads_another_models_cache(
    served: tuple[str, str],
    other: tuple[str, str],
    usage: Usage,
    served_before: CacheState | None,
    now: float,
) -> None:
    if served == other:
        return
    # The other model has no cache of its own in the other world: it reads nothing, however warm
    # the served model's cache is.
    got = usage_on(other, served, usage, served_before=served_before, other_before=None, now=now)
    assert got.cache_read_tokens == 0
    assert got.total_input_tokens == usage.total_input_tokens and got.output_tokens == usage.output_tokens


@given(st.lists(st.tuples(MODELS, usages(), st.floats(0, 2 * ONE_HOUR)), max_size=12), MODELS)
def test_the_book_keeps_caches_per_model(
    calls: list[tuple[tuple[str, str], Usage, float]], probe: tuple[str, str]
) -> None:
    book = CacheBook()
    now = 0.0
    for model, usage, gap in calls:
        now += gap
        before = book.get("actual", "id", model)
        result = step(model, model, usage, served_before=before, other_before=before, now=now)
        book.put("actual", "id", model, result.served_after)
    if all(model != probe for model, _, _ in calls):
        assert book.get("actual", "id", probe) is None


@given(st.one_of(st.none(), states), usages(), times, MODELS, st.floats(0, 3 * ONE_HOUR))
def test_a_prefix_never_outlives_its_lifetime(
    prev: CacheState | None, usage: Usage, now: float, model: tuple[str, str], later: float
) -> None:
    after = observe(prev, usage, now, explicit=model[0] == "anthropic")
    if after is None:
        return
    assert after.lifetime in (FIVE_MINUTES, ONE_HOUR)
    t = max(now, after.last_use) + later
    assert readable(after, t) == (after.tokens if t < after.expires else 0)
    assert readable(after, after.expires) == 0


@given(states, st.integers(1, 400_000), st.floats(0, ONE_HOUR))
def test_a_hit_refreshes_the_lifetime(prev: CacheState | None, read: int, gap: float) -> None:
    if prev is None:
        return
    now = prev.last_use + gap
    if not prev.alive(now):
        return
    after = observe(prev, Usage(input_tokens=10, cache_read_tokens=read), now, explicit=True)
    assert after is not None
    assert after.last_use == now and after.lifetime == prev.lifetime
    assert after.expires >= prev.expires


def test_writes_set_the_lifetime_and_a_request_without_cache_leaves_it() -> None:
    one_hour = observe(
        None, Usage(cache_write_tokens=5_000, cache_write_1h_tokens=5_000), 10.0, explicit=True
    )
    assert one_hour == CacheState(5_000, ONE_HOUR, 10.0)
    five = observe(one_hour, Usage(cache_read_tokens=5_000, cache_write_tokens=900), 20.0, explicit=True)
    assert five == CacheState(5_900, FIVE_MINUTES, 20.0)
    assert observe(five, Usage(input_tokens=700), 30.0, explicit=True) is five


def test_automatic_caches_keep_whole_steps_from_1024_tokens() -> None:
    assert (
        automatic_prefix(1_023) == 0 and automatic_prefix(1_024) == 1_024 and automatic_prefix(1_300) == 1_280
    )
    assert observe(None, Usage(input_tokens=1_300), 5.0, explicit=False) == CacheState(
        1_280, FIVE_MINUTES, 5.0
    )


def test_minimum_cacheable_prefixes() -> None:
    assert min_cacheable_tokens(*HAIKU) == 4096 and min_cacheable_tokens(*OPUS) == 4096
    assert min_cacheable_tokens(*SONNET) == 1024 and min_cacheable_tokens(*GPT) == 1024


def test_identity_separates_fresh_contexts_and_sessions() -> None:
    main = cache_identity("s1", ["You are Claude Code."], ["Bash", "Read"])
    assert main == cache_identity("s1", ["You are Claude Code."], ["Bash", "Read"])
    assert main != cache_identity("s1", ["Generate a title."], [])
    assert main != cache_identity("s1", ["You are Claude Code."], ["Bash"])
    assert main != cache_identity("s2", ["You are Claude Code."], ["Bash", "Read"])


def test_the_book_is_bounded() -> None:
    book = CacheBook(capacity=3)
    for i in range(5):
        book.put("actual", f"id{i}", SONNET, CacheState(1_000, FIVE_MINUTES, 0.0))
    assert len(book) == 3 and book.get("actual", "id0", SONNET) is None
    assert book.get("actual", "id4", SONNET) is not None
