"""The cache-faithful fake's cache model (``simulator.cache_model``) and its script: Anthropic
breakpoints, lifetimes, refresh, look-back, per-model caches and minimum lengths; OpenAI automatic
prefix caching; property tests over random request sequences on a manual clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.simulator.cache_model import (
    FIVE_MINUTES,
    LOOKBACK_BLOCKS,
    ONE_HOUR,
    AnthropicCache,
    CacheRuleError,
    ManualClock,
    OpenAICache,
    anthropic_blocks,
    anthropic_min_tokens,
    canonical,
    count_tokens,
)
from stackbilt_gateway.daemon.simulator.cached_script import LONG_CONTEXT_BETA, CachedScript
from stackbilt_gateway.daemon.simulator.reply import Call, Rejected
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream

SONNET = "claude-sonnet-4-5"
OPUS = "claude-opus-4-6"
TOOLS = [
    {"name": f"tool_{i}", "description": "d" * (800 + i), "input_schema": {"type": "object"}}
    for i in range(3)
]
SYSTEM_TEXT = "You are a careful assistant. " * 150  # ~ 1100 tokens


def mark(ttl: str | None) -> dict[str, str]:
    return {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}


def conversation(n: int, *, size: int = 400) -> list[dict[str, Any]]:
    """``n`` one-block messages of distinct lengths, alternating user / assistant."""
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": [{"type": "text", "text": f"m{i} " + "x" * (size + i)}],
        }
        for i in range(n)
    ]


def request(
    n: int, *, last: str | None = "5m", system: str | None = None, model: str = SONNET, size: int = 400
) -> dict[str, Any]:
    """Tools, one system block (marked when ``system`` is set) and ``n`` messages, the last marked."""
    messages = conversation(n, size=size)
    if last is not None and messages:
        block = messages[-1]["content"][-1]
        block["cache_control"] = mark(None if last == "5m" else last)
    sys_block: dict[str, Any] = {"type": "text", "text": SYSTEM_TEXT}
    if system is not None:
        sys_block["cache_control"] = mark(system)
    return {"model": model, "tools": TOOLS, "system": [sys_block], "messages": messages}


def prefix_tokens(body: dict[str, Any], upto: int) -> int:
    """Tokens of blocks 0..upto (tools → system → messages order)."""
    return sum(b.tokens for b in anthropic_blocks(body)[: upto + 1])


def total_tokens(body: dict[str, Any]) -> int:
    return sum(b.tokens for b in anthropic_blocks(body))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> AnthropicCache:
    return AnthropicCache(clock)


# -- counting --------------------------------------------------------------------------------------


def test_tokens_are_ceil_of_canonical_chars_over_4_without_cache_control() -> None:
    block = {"type": "text", "text": "abcdefg"}
    assert canonical(block) == '{"text":"abcdefg","type":"text"}'  # 32 chars
    assert count_tokens(block) == 8
    assert count_tokens({**block, "text": "abcdefgh"}) == 9  # 33 chars → ceil
    assert count_tokens({**block, "cache_control": mark("1h")}) == 8
    body = request(2)
    blocks = anthropic_blocks(body)
    assert len(blocks) == len(TOOLS) + 1 + 2
    assert [b.ttl for b in blocks] == [None] * 5 + [FIVE_MINUTES]
    # A string system prompt / message content is one text block, the same as its list form.
    as_string = {
        **body,
        "system": SYSTEM_TEXT,
        "messages": [{"role": "user", "content": body["messages"][0]["content"][0]["text"]}],
    }
    as_list = {**body, "messages": body["messages"][:1]}
    assert (
        anthropic_blocks(as_string)[-1].digest
        == anthropic_blocks({**as_list, "system": [{"type": "text", "text": SYSTEM_TEXT}]})[-1].digest
    )


# -- Anthropic: write, read, lifetimes -----------------------------------------------------------


def test_cold_write_then_warm_read_then_rewrite_after_five_minutes(
    cache: AnthropicCache, clock: ManualClock
) -> None:
    body = request(4)
    total = total_tokens(body)
    first = cache.serve(SONNET, body)
    assert (first.input_tokens, first.write_5m, first.write_1h, first.read) == (0, total, 0, 0)
    clock.advance(FIVE_MINUTES - 1)
    second = cache.serve(SONNET, body)
    assert (second.input_tokens, second.written, second.read) == (0, 0, total)
    clock.advance(FIVE_MINUTES)  # the hit refreshed it: it dies exactly 5 minutes after the hit
    third = cache.serve(SONNET, body)
    assert (third.write_5m, third.read) == (total, 0)


def test_one_hour_entries_live_an_hour(cache: AnthropicCache, clock: ManualClock) -> None:
    body = request(4, last="1h")
    assert cache.serve(SONNET, body).write_1h == total_tokens(body)
    clock.advance(ONE_HOUR - 1)
    assert cache.serve(SONNET, body).read == total_tokens(body)
    clock.advance(ONE_HOUR)
    again = cache.serve(SONNET, body)
    assert (again.read, again.write_1h) == (0, total_tokens(body))


def test_a_hit_refreshes_the_lifetime(cache: AnthropicCache, clock: ManualClock) -> None:
    body = request(4)
    cache.serve(SONNET, body)
    for _ in range(10):  # 40 minutes, always within 5 minutes of the last hit
        clock.advance(240)
        assert cache.serve(SONNET, body).read == total_tokens(body)


def test_caches_are_per_model_and_per_scope(cache: AnthropicCache) -> None:
    body = request(4)
    cache.serve(SONNET, body)
    assert cache.serve(OPUS, body).read == 0, "Opus cannot read Sonnet's cache"
    assert cache.serve(SONNET, body, scope="other-org").read == 0
    assert cache.serve(SONNET, body).read == total_tokens(body)


def test_a_growing_conversation_reads_the_old_prefix_and_writes_the_new_part(cache: AnthropicCache) -> None:
    cache.serve(SONNET, request(4, system="1h", last="1h"))
    grown = request(7, system="1h", last="1h")
    usage = cache.serve(SONNET, grown)
    old = prefix_tokens(grown, len(TOOLS) + 4)  # tools, system, 4 messages
    assert usage.read == old
    assert (usage.write_1h, usage.write_5m, usage.input_tokens) == (total_tokens(grown) - old, 0, 0)


def test_mixed_lifetimes_bill_each_segment_at_its_breakpoints_ttl(cache: AnthropicCache) -> None:
    body = request(3, system="1h", last="5m")
    usage = cache.serve(SONNET, body)
    system_end = prefix_tokens(body, len(TOOLS))
    assert usage.write_1h == system_end
    assert usage.write_5m == total_tokens(body) - system_end
    assert usage.wire(9) == {
        "input_tokens": 0,
        "cache_creation_input_tokens": total_tokens(body),
        "cache_read_input_tokens": 0,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.write_5m,
            "ephemeral_1h_input_tokens": system_end,
        },
        "output_tokens": 9,
    }


def test_tokens_after_the_last_breakpoint_are_uncached(cache: AnthropicCache) -> None:
    body = request(5, last=None, system="1h")
    usage = cache.serve(SONNET, body)
    assert usage.write_1h == prefix_tokens(body, len(TOOLS))
    assert usage.input_tokens == total_tokens(body) - usage.write_1h
    assert cache.serve(SONNET, {**body, "system": SYSTEM_TEXT}).written == 0, "no breakpoint: nothing cached"


def test_look_back_finds_a_hit_up_to_20_blocks_before_a_breakpoint(cache: AnthropicCache) -> None:
    cache.serve(SONNET, request(10))
    near = request(10 + LOOKBACK_BLOCKS)
    assert cache.serve(SONNET, near).read == prefix_tokens(near, len(TOOLS) + 10)

    other = AnthropicCache(ManualClock())
    other.serve(SONNET, request(10))
    far = request(10 + LOOKBACK_BLOCKS + 1)
    usage = other.serve(SONNET, far)
    assert (usage.read, usage.write_5m) == (0, total_tokens(far)), "grew past the look-back: a full rewrite"


def test_minimum_cacheable_length_per_model(clock: ManualClock) -> None:
    assert (anthropic_min_tokens("claude-sonnet-4-5"), anthropic_min_tokens("claude-opus-4-5")) == (
        1024,
        4096,
    )
    assert anthropic_min_tokens("claude-haiku-4-5-20251001") == 4096
    assert anthropic_min_tokens("claude-3-5-haiku-latest") == 2048
    assert anthropic_min_tokens("claude-opus-4-6") == 4096
    assert anthropic_min_tokens("claude-sonnet-4-6") == 2048
    cache = AnthropicCache(clock)
    short = {
        "model": SONNET,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "y" * 3000, "cache_control": mark(None)}]}
        ],
    }
    assert total_tokens(short) < 1024
    assert cache.serve(SONNET, short).written == 0
    body = request(4)
    assert 1024 < total_tokens(body) < 4096
    assert cache.serve("claude-opus-4-5", body).written == 0
    assert cache.serve("claude-opus-4-5", body).read == 0
    assert cache.serve(SONNET, body).written == total_tokens(body)
    # A breakpoint too short to cache folds into the next one's write.
    small_system = {**request(4, size=1200), "tools": []}
    small_system["system"] = [{"type": "text", "text": "short", "cache_control": mark("1h")}]
    usage = AnthropicCache(clock).serve(SONNET, small_system)
    assert (usage.write_1h, usage.write_5m) == (0, total_tokens(small_system))


def test_breakpoint_rules_the_api_enforces(cache: AnthropicCache) -> None:
    body = request(5)
    for message in body["messages"]:
        message["content"][0]["cache_control"] = mark(None)
    with pytest.raises(CacheRuleError, match="maximum of 4"):
        cache.serve(SONNET, body)
    with pytest.raises(CacheRuleError, match="1h"):
        cache.serve(SONNET, request(3, system="5m", last="1h"))
    with pytest.raises(CacheRuleError):
        cache.serve(SONNET, request(3, last="2h"))


# -- OpenAI automatic caching ----------------------------------------------------------------------


def responses_body(n: int, model: str = "gpt-5.5", size: int = 400) -> dict[str, Any]:
    items = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"i{i} " + "z" * (size + i)}],
        }
        for i in range(n)
    ]
    return {"model": model, "input": items, "tools": TOOLS}


def test_openai_caches_prompts_of_1024_tokens_or_more_in_128_token_steps(clock: ManualClock) -> None:
    cache = OpenAICache(clock)
    small = responses_body(1, size=100)
    assert cache.serve("gpt-5.5", "responses", small).total < 1024
    assert cache.serve("gpt-5.5", "responses", small).cached == 0
    body = responses_body(12)
    first = cache.serve("gpt-5.5", "responses", body)
    assert first.cached == 0 and first.total > 2000
    second = cache.serve("gpt-5.5", "responses", body)
    assert second.cached == 1024 + (first.total - 1024) // 128 * 128
    assert (second.cached - 1024) % 128 == 0 and second.total - 128 < second.cached <= second.total


def test_openai_hit_is_the_shared_prefix_per_model_and_lives_its_idle_lifetime(clock: ManualClock) -> None:
    cache = OpenAICache(clock)
    short, long = responses_body(8), responses_body(12)
    shared = cache.serve("gpt-5.5", "responses", short).total
    assert cache.serve("gpt-5.5-mini", "responses", long).cached == 0, "per model"
    grown = cache.serve("gpt-5.5", "responses", long)
    assert grown.cached == 1024 + (shared - 1024) // 128 * 128
    clock.advance(FIVE_MINUTES - 1)
    assert cache.serve("gpt-5.5", "responses", long).cached > grown.cached, "refreshed and extended"
    clock.advance(FIVE_MINUTES)
    assert cache.serve("gpt-5.5", "responses", long).cached == 0
    retained = {**long, "prompt_cache_retention": "24h"}
    cache.serve("gpt-5.5", "responses", retained)
    clock.advance(20 * ONE_HOUR)
    assert cache.serve("gpt-5.5", "responses", long).cached > 0


def test_openai_chat_counts_messages_and_tools(clock: ManualClock) -> None:
    cache = OpenAICache(clock)
    messages = [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "hi"}]
    body = {"model": "m", "messages": messages, "tools": TOOLS}
    first = cache.serve("m", "chat", body)
    assert first.total == sum(count_tokens(b) for b in [*TOOLS, *messages])
    other = {"role": "user", "content": "hello"}
    changed = {**body, "messages": [messages[0], other]}
    # Shared: every block before the last, plus the whole 4-character tokens its JSON opens with.
    a, b = canonical(messages[1]), canonical(other)
    same = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y) // 4
    shared = first.total - count_tokens(messages[1]) + same
    assert shared >= 1024
    assert cache.serve("m", "chat", changed).cached == 1024 + (shared - 1024) // 128 * 128


# -- the script and the upstream hook -----------------------------------------------------------


def _call(body: dict[str, Any], beta: str = "", number: int = 1) -> Call:
    headers = {"anthropic-beta": beta} if beta else {}
    return Call("anthropic", body, b"", "anthropic", number, headers)


def test_cached_script_reports_cache_usage_and_refuses_what_the_api_refuses() -> None:
    script = CachedScript()
    body = request(4, system="1h", last="1h")
    reply = script.reply(_call(body))
    assert reply.usage["cache_creation"]["ephemeral_1h_input_tokens"] == total_tokens(body)
    assert reply.usage["output_tokens"] >= 1 and reply.text
    (served,) = script.log()
    assert served.usage == reply.usage and served.total_input == total_tokens(body) and served.model == SONNET
    huge = request(4, size=300_000)  # 1.2M characters: ~300k tokens
    with pytest.raises(Rejected, match="prompt is too long"):
        script.reply(_call(huge))
    ok = script.reply(_call(huge, beta=f"claude-code-20250219, {LONG_CONTEXT_BETA}"))
    assert ok.usage["cache_creation_input_tokens"] > 200_000
    assert script.log()[-1].betas == {"claude-code-20250219", LONG_CONTEXT_BETA}


def test_the_fake_upstream_answers_a_refusal_with_the_wires_400() -> None:
    fake = FakeUpstream(script=CachedScript()).start()
    try:
        body = request(5)
        for message in body["messages"]:
            message["content"][0]["cache_control"] = mark(None)
        r = httpx.post(f"{fake.url}/v1/messages", json=body, timeout=10)
        assert r.status_code == 400
        assert (
            r.json()["error"]["type"] == "invalid_request_error"
            and "maximum of 4" in r.json()["error"]["message"]
        )
        ok = httpx.post(
            f"{fake.url}/v1/messages", json=request(3), headers={"anthropic-beta": "x"}, timeout=10
        )
        assert ok.status_code == 200 and ok.json()["usage"]["cache_creation_input_tokens"] == total_tokens(
            request(3)
        )
    finally:
        fake.stop()


# -- properties ----------------------------------------------------------------------------------

MODELS = (SONNET, "claude-opus-4-5")  # minimum 1024 and 4096 tokens
CONVERSATION = 45  # messages; a request sends the first n of them


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(MODELS),
            st.one_of(st.sampled_from([3, 8, 28, 29, 30]), st.integers(1, CONVERSATION)),  # repeats likely
            st.sampled_from(["5m", "1h"]),
            st.sampled_from([0, 30, 200, 299, 300, 301, 900, 3599, 3600, 4000]),
        ),
        min_size=1,
        max_size=25,
    )
)
@example([(SONNET, 8, "5m", 0), (SONNET, 8, "5m", 200), (SONNET, 9, "5m", 200), (OPUS, 9, "5m", 10)])
@example([(SONNET, 8, "1h", 0), (SONNET, 8, "1h", 3000), (SONNET, 8, "1h", 3000), (SONNET, 8, "5m", 3599)])
def test_anthropic_reads_only_live_entries_of_its_own_model_and_hits_refresh(
    ops: list[tuple[str, int, str, int]],
) -> None:
    clock = ManualClock()
    cache = AnthropicCache(clock)
    # The oracle: (model, block index) → expiry, kept from what the cache reported.
    alive: dict[tuple[str, int], float] = {}
    lifetimes: dict[tuple[str, int], float] = {}
    for model, n, ttl, gap in ops:
        clock.advance(gap)
        now = clock()
        body = request(n, last=ttl)
        blocks = anthropic_blocks(body)
        cumulative = [sum(b.tokens for b in blocks[: i + 1]) for i in range(len(blocks))]
        p = len(blocks) - 1  # the one breakpoint
        usage = cache.serve(model, body)
        assert usage.input_tokens + usage.written + usage.read == cumulative[-1]
        live = {q for (m, q), expiry in alive.items() if m == model and expiry > now}
        reachable = [q for q in live if p - LOOKBACK_BLOCKS <= q <= p]
        if usage.read:
            q = cumulative.index(usage.read)
            assert q in live, "read an entry of another model, or one past its lifetime"
        assert usage.read == (cumulative[max(reachable)] if reachable else 0), (
            "a live reachable entry must hit"
        )
        if usage.read:
            for r in live:
                if r <= cumulative.index(usage.read):
                    alive[(model, r)] = now + lifetimes[(model, r)]
        if usage.written:
            assert (
                cumulative[p] >= anthropic_min_tokens(model) and usage.written == cumulative[p] - usage.read
            )
            alive[(model, p)] = now + (ONE_HOUR if ttl == "1h" else FIVE_MINUTES)
            lifetimes[(model, p)] = ONE_HOUR if ttl == "1h" else FIVE_MINUTES
        else:
            assert usage.read == cumulative[p] or cumulative[p] < anthropic_min_tokens(model)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["gpt-5.5", "gpt-5.4-mini"]),
            st.one_of(st.sampled_from([6, 12, 13]), st.integers(1, 30)),
            st.sampled_from([0, 60, 299, 300, 301, 1000]),
        ),
        min_size=1,
        max_size=25,
    )
)
@example([("gpt-5.5", 12, 0), ("gpt-5.5", 6, 200), ("gpt-5.5", 13, 200), ("gpt-5.4-mini", 13, 0)])
def test_openai_reads_only_live_prefixes_of_its_own_model(ops: list[tuple[str, int, int]]) -> None:
    clock = ManualClock()
    cache = OpenAICache(clock)
    seen: dict[str, list[tuple[int, float]]] = {}  # model → (prompt tokens, last time)
    for model, n, gap in ops:
        clock.advance(gap)
        now = clock()
        usage = cache.serve(model, "responses", responses_body(n, model))
        assert 0 <= usage.cached <= usage.total
        assert usage.cached == 0 or (usage.cached >= 1024 and (usage.cached - 1024) % 128 == 0)
        # Every earlier prompt of this model is a prefix of this one or this one of it.
        live = [min(total, usage.total) for total, at in seen.get(model, []) if now - at < FIVE_MINUTES]
        shared = max(live, default=0)
        expected = 1024 + (shared - 1024) // 128 * 128 if shared >= 1024 else 0
        assert usage.cached == expected
        # This prompt (re)writes every step boundary up to its length, now.
        seen.setdefault(model, []).append((usage.total, now))
