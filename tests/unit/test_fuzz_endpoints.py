"""Fuzzing malformed input: the three request parsers in-process, then the HTTP endpoints
(Quart test client, an upstream transport that fails the test if it is ever called).

Inputs are nested, huge, non-UTF-8, type-confused and surrogate-bearing. Every one is malformed
(or names a model no provider serves), so each must be answered 4xx before any upstream call,
with no traceback in the log. Bounded to run in seconds (``max_examples``, no deadline).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import GatewayRequest
from stackbilt_gateway.daemon.http.app import create_app
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.chat.request import parse_chat_request
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request

KEY = "sgw-unit-test-key"
ENV = {"ANTHROPIC_API_KEY": "sk-ant-upstream", "OPENAI_API_KEY": "sk-upstream", "GROQ_API_KEY": "gsk-up"}
UNKNOWN_MODEL = "fuzz-no-such-model"
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Field names the parsers look at, so junk lands where it matters.
KEYS = [
    "model", "messages", "system", "max_tokens", "max_completion_tokens", "max_output_tokens", "stream",
    "tools", "tool_choice", "temperature", "top_p", "top_k", "stop", "stop_sequences", "thinking",
    "output_config", "metadata", "response_format", "reasoning_effort", "reasoning", "user", "input",
    "instructions", "text", "parallel_tool_calls", "tool_namespaces", "role", "content", "type", "text",
    "id", "name", "input_schema", "source", "tool_use_id", "tool_calls", "function", "arguments",
    "call_id", "output", "encrypted_content", "image_url", "file", "file_data", "budget_tokens",
    "cache_control", "is_error", "signature", "thinking", "namespace", "parameters", "format", "schema",
]  # fmt: skip
WORDS = [
    "user", "assistant", "system", "developer", "tool", "text", "tool_use", "tool_result", "image",
    "document", "thinking", "redacted_thinking", "function", "custom", "namespace", "message",
    "function_call", "function_call_output", "reasoning", "input_text", "output_text", "input_image",
    "input_file", "json_schema", "enabled", "adaptive", "auto", "any", "none", "required", "base64",
    "url", "data:image/png;base64,AAAA", "sgw1:e30", "", "\U0001f600", "é",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=20),
)
junk: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=25,
)


def deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


# --- in-process: the three parsers -------------------------------------------------------------

PARSERS = [parse_request, parse_chat_request, parse_responses_request]


def _parse_or_refuse(body: Any) -> None:
    for parser in PARSERS:
        try:
            result = parser(body)
        except InvalidRequest as exc:
            assert exc.status == 400 and exc.message
        else:
            assert isinstance(result, GatewayRequest)


def _base(kind: int) -> dict[str, Any]:
    if kind == 0:
        return {"model": "claude-opus-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    if kind == 1:
        return {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}
    return {"model": "gpt-5.5", "input": "hi"}


@FUZZ
@given(body=junk)
def test_parsers_refuse_arbitrary_values_cleanly(body: Any) -> None:
    _parse_or_refuse(body)


@FUZZ
@given(
    kind=st.integers(0, 2),
    fields=st.dictionaries(st.sampled_from(KEYS), junk, max_size=4),
    nested_field=st.sampled_from(KEYS),
    depth=st.sampled_from([1, 50, 300, 890]),
)
def test_parsers_refuse_type_confused_fields_cleanly(
    kind: int, fields: dict[str, Any], nested_field: str, depth: int
) -> None:
    body = {**_base(kind), **fields}
    _parse_or_refuse(body)
    _parse_or_refuse({**body, nested_field: deep(depth)})
    message = {"role": "user", "content": [{"type": "text", "text": "x", **fields}]}
    _parse_or_refuse({**body, "messages": [message, fields], "input": [fields, message]})


# --- over HTTP ---------------------------------------------------------------------------------

PATHS = {
    0: ("/v1/messages", "/v1/messages/count_tokens"),
    1: ("/v1/chat/completions",),
    2: ("/v1/responses",),
}
# One malformation per protocol that its parser always refuses, whatever else the body holds.
BREAKERS: dict[int, list[tuple[str, Any]]] = {
    0: [("max_tokens", v) for v in (0, -1, 10**9 + 1, 2**63, "10", True, 1.5, [5], {"a": 1})]
    + [("messages", v) for v in ([], "x", 5, [5], [{"role": "bogus", "content": "x"}])],
    1: [("max_tokens", v) for v in (0, -1, 10**9 + 1, 2**63, "10", True, 1.5, [5])]
    + [("messages", v) for v in ([], "x", 5, [5], [{"role": "bogus"}])],
    2: [("max_output_tokens", v) for v in (0, 10**9 + 1, 2**64 - 1, "10", False, 2.5, {})]
    + [("input", v) for v in (None, 5, [5], [{"type": 5}], {"a": "b"})],
}


class Refusing:
    """An upstream that must never be reached: every call is recorded and fails."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url}")
        raise AssertionError("the upstream was called for a malformed request")


@contextmanager
def running_app() -> Iterator[tuple[Refusing, Any]]:
    """The app in its lifespan on a private event loop, and a blocking ``send(path, data)``."""
    upstream = Refusing()
    keys = KeyStore(ENV, KEY, use_keyring=False)
    app = create_app(Config(), gateway_key=KEY, keys=keys, env=ENV, transport=httpx.MockTransport(upstream))
    loop = asyncio.new_event_loop()
    lifespan = app.test_app()
    test_app = loop.run_until_complete(lifespan.__aenter__())
    client = test_app.test_client()
    headers = {"x-api-key": KEY, "host": "127.0.0.1:8787", "content-type": "application/json"}

    async def _send(path: str, data: bytes) -> tuple[int, bytes]:
        resp = await client.post(path, data=data, headers=headers)
        return resp.status_code, await resp.get_data()

    def send(path: str, data: bytes) -> tuple[int, bytes]:
        return loop.run_until_complete(_send(path, data))

    try:
        yield upstream, send
    finally:
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()


def _check(send: Any, upstream: Refusing, caplog: pytest.LogCaptureFixture, path: str, data: bytes) -> None:
    status, raw = send(path, data)
    assert 400 <= status < 500, (status, raw[:300])
    body = json.loads(raw)
    assert isinstance(body, dict) and isinstance(body["error"], dict) and body["error"]["message"]
    if path.startswith("/v1/messages"):
        assert body["type"] == "error"
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
    assert upstream.calls == []
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


RAW_MUTATIONS = [
    lambda raw: raw.replace(b'"hi"', b"[" * 100_000 + b"]" * 100_000, 1),
    lambda raw: raw.replace(b'"hi"', b"[" * 1000 + b"]" * 1000, 1),
    lambda raw: raw.replace(b'"hi"', b'"\\ud800"', 1),
    lambda raw: raw.replace(b'"hi"', b'"\\udfff\\ud800x"', 1),
    lambda raw: raw.replace(b'"hi"', b'"\xed\xa0\x80"', 1),
    lambda raw: raw.replace(b'"hi"', b'"\xff\xfe"', 1),
    lambda raw: raw.replace(b'"hi"', b"9" * 5000, 1),
    lambda raw: raw.replace(b'"hi"', b"-1e999", 1),
    lambda raw: raw.replace(b'"hi"', b"NaN", 1),
    lambda raw: raw[: len(raw) // 2],
    lambda raw: raw + b",",
    lambda raw: b"\xef\xbb\xbf" + raw,
    lambda raw: raw.decode().encode("utf-16"),
]


def test_endpoints_answer_malformed_bodies_with_4xx(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with running_app() as (upstream, send):

        @FUZZ
        @given(
            kind=st.integers(0, 2),
            fields=st.dictionaries(st.sampled_from(KEYS), junk, max_size=3),
            breaker=st.data(),
            nested_field=st.none() | st.sampled_from(KEYS),
            depth=st.sampled_from([5, 300, 890, 1000, 5000]),
            mutation=st.none() | st.sampled_from(range(len(RAW_MUTATIONS))),
        )
        def run(
            kind: int,
            fields: dict[str, Any],
            breaker: st.DataObject,
            nested_field: str | None,
            depth: int,
            mutation: int | None,
        ) -> None:
            field, value = breaker.draw(st.sampled_from(BREAKERS[kind]))
            body = {**_base(kind), **fields}
            if nested_field is not None:
                body[nested_field] = deep(depth)
            body[field] = value
            try:
                raw = _encode(body)
            except RecursionError:
                raw = b"[" * depth + b"]" * depth
            if mutation is not None:
                raw = RAW_MUTATIONS[mutation](_encode({**_base(kind), field: value}))
            for path in PATHS[kind]:
                _check(send, upstream, caplog, path, raw)

        run()


def test_endpoints_answer_arbitrary_bytes_and_values_with_4xx(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    paths = [p for group in PATHS.values() for p in group]
    with running_app() as (upstream, send):

        @FUZZ
        @given(
            body=st.one_of(
                st.binary(max_size=200),
                junk.map(_encode),
                st.dictionaries(st.sampled_from(KEYS), junk, max_size=6).map(
                    lambda d: _encode({**d, "model": UNKNOWN_MODEL})
                ),
                st.text(max_size=50).map(lambda t: _encode({"model": "gpt-5.5", "input": [t], "x": t})),
            ),
            path=st.sampled_from(paths),
        )
        def run(body: bytes, path: str) -> None:
            _check(send, upstream, caplog, path, body)

        run()
