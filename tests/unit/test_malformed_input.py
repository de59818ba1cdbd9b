"""Malformed client input is a 400 in the client protocol's shape, before any upstream call:
the strict JSON decoder (``core.jsonfast``), the integer bounds (``core.validate``) and the
three request parsers, each case once in-process and the named ones over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from quart import Quart

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core import jsonfast
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.errors import InvalidRequest
from stackbilt_gateway.daemon.core.ir import GatewayRequest, OpaquePart, ToolCallPart
from stackbilt_gateway.daemon.core.validate import MAX_COUNT, is_unicode_text
from stackbilt_gateway.daemon.http.app import create_app
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from stackbilt_gateway.daemon.wires.chat.request import parse_chat_request
from stackbilt_gateway.daemon.wires.reasoning_codec import PREFIX
from stackbilt_gateway.daemon.wires.responses.request import parse_responses_request

KEY = "sgw-unit-test-key"
ENV = {"ANTHROPIC_API_KEY": "sk-ant-upstream", "OPENAI_API_KEY": "sk-upstream"}
Parser = Callable[[object], GatewayRequest]


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def anthropic(**over: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-5-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        **over,
    }


def chat(**over: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], **over}


def responses(**over: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "input": "hi", **over}


# --- the decoder -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (nested(100_000), "depth"),
        (nested(jsonfast.MAX_DEPTH + 1), f"deeper than {jsonfast.MAX_DEPTH}"),
        (nested(1024), f"deeper than {jsonfast.MAX_DEPTH}"),
        (b'{"max_tokens":' + b"9" * 5000 + b"}", "infinity"),
        (b'{"a":"\\ud800"}', "surrogate"),
        (b'{"a":"\\udc00\\ud800"}', "surrogate"),
        (b'{"a":NaN}', "expected"),
        (b'{"a":-Infinity}', "digit"),
        (b'{"a":1e999}', "infinity"),
        (b'{"a":1,}' + b" " * 4000, "trailing comma"),
    ],
)
def test_decoder_refuses_what_the_gateway_cannot_carry(raw: bytes, needle: str) -> None:
    for data in (raw, raw.decode()):
        with pytest.raises(json.JSONDecodeError, match=needle):
            jsonfast.loads(data)


@pytest.mark.parametrize("raw", [b'{"a":"\xed\xa0\x80"}', b'{"a":"\xff"}', b"\xff\xfe{}"])
def test_decoder_refuses_bytes_that_are_not_utf8(raw: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        jsonfast.loads(raw)


def test_decoder_refuses_a_str_holding_a_lone_surrogate() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonfast.loads('{"a":"\ud800"}')


@pytest.mark.parametrize("depth", [1, 2, 100, jsonfast.MAX_DEPTH - 1, jsonfast.MAX_DEPTH])
def test_decoder_keeps_nesting_up_to_the_limit(depth: int) -> None:
    value = jsonfast.loads(nested(depth))
    for _ in range(depth):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == 1


def test_decoder_result_is_unchanged_by_the_depth_check() -> None:
    body = anthropic(
        messages=[{"role": "user", "content": "x" * 5000 + "\U0001f600 \\ud800 é"}],
        tools=[{"name": "t", "input_schema": {"type": "object", "properties": {"a": {"type": "array"}}}}],
        big=2**63 - 1,
        small=-(2**63),
        pi=3.25,
        pair="\U0001f600",
    )
    raw = json.dumps(body).encode()
    assert len(raw) > 2 * jsonfast.MAX_DEPTH
    assert jsonfast.loads(raw) == body
    assert jsonfast.loads(raw.decode()) == body
    assert jsonfast.loads(b'"\\ud83d\\ude00"') == "\U0001f600"  # an escaped pair is fine


def test_unicode_text_check() -> None:
    assert is_unicode_text("plain") and is_unicode_text("é \U0001f600")
    assert not is_unicode_text("a\ud800b")


# --- the parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parser", "body", "param"),
    [
        (parse_request, anthropic(max_tokens=MAX_COUNT + 1), "max_tokens"),
        (parse_request, anthropic(max_tokens=10**400), "max_tokens"),
        (parse_request, anthropic(max_tokens=True), "max_tokens"),
        (parse_request, anthropic(max_tokens=1e30), "max_tokens"),
        (parse_request, anthropic(top_k=2**63), "top_k"),
        (
            parse_request,
            anthropic(thinking={"type": "enabled", "budget_tokens": 2**64 - 1}),
            "thinking.budget_tokens",
        ),
        (parse_chat_request, chat(max_tokens=MAX_COUNT + 1), "max_tokens"),
        (parse_chat_request, chat(max_completion_tokens=10**400), "max_completion_tokens"),
        (parse_chat_request, chat(top_k=2**63), "top_k"),
        (parse_chat_request, chat(max_tokens=False), "max_tokens"),
        (
            parse_chat_request,
            chat(tools=[{"type": "function", "function": {"name": "t", "description": [[1]]}}]),
            "tools.0.function.description",
        ),
        (
            parse_chat_request,
            chat(tools=[{"type": "custom", "custom": {"name": "t", "description": {"a": 1}}}]),
            "tools.0.custom.description",
        ),
        (
            parse_chat_request,
            chat(response_format={"type": "json_schema", "json_schema": {"name": ["x"]}}),
            "response_format.json_schema.name",
        ),
        (
            parse_chat_request,
            chat(messages=[{"role": "user", "content": [{"type": "file", "file": {"file_data": [1]}}]}]),
            "messages.0.content.0.file.file_data",
        ),
        (parse_responses_request, responses(max_output_tokens=MAX_COUNT + 1), "max_output_tokens"),
        (parse_responses_request, responses(max_output_tokens=10**400), "max_output_tokens"),
    ],
)
def test_parsers_refuse_out_of_range_and_type_confused_fields(parser: Parser, body: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parser(body)
    assert info.value.param == param
    assert info.value.status == 400
    assert param.split(".")[-1] in info.value.message


def test_the_largest_counts_still_parse() -> None:
    assert parse_request(anthropic(max_tokens=MAX_COUNT)).max_tokens == MAX_COUNT
    assert parse_chat_request(chat(max_completion_tokens=MAX_COUNT)).max_tokens == MAX_COUNT
    assert parse_responses_request(responses(max_output_tokens=MAX_COUNT)).max_tokens == MAX_COUNT


def test_opaque_tool_result_block_with_non_list_content_keeps_its_title() -> None:
    block = {"type": "search_result", "title": "T", "content": 5, "source": "s"}
    message = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [block]}]}
    req = parse_request(anthropic(messages=[message]))
    result = req.messages[0].parts[0]
    assert [p.text for p in result.content] == ["T"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "arguments",
    ['{"a": "\\ud800"}', nested(2000).decode(), '{"a": NaN}', "[1]", "{not json"],
)
def test_unparsable_tool_arguments_become_empty_objects(arguments: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    req = parse_chat_request(chat(messages=[{"role": "assistant", "content": None, "tool_calls": [call]}]))
    part = req.messages[0].parts[0]
    assert isinstance(part, ToolCallPart) and part.arguments == {}
    item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": arguments}
    part = parse_responses_request(responses(input=[item])).messages[0].parts[0]
    assert isinstance(part, ToolCallPart) and part.arguments == {}


def test_well_formed_tool_arguments_still_parse() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": [1, {"b": "é"}]}'}}
    req = parse_chat_request(chat(messages=[{"role": "assistant", "tool_calls": [call]}]))
    assert req.messages[0].parts[0] == ToolCallPart(id="c1", name="f", arguments={"a": [1, {"b": "é"}]})


def _ours(payload: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@pytest.mark.parametrize("payload", ['{"t": "\\ud800", "s": "sig"}', nested(5000).decode()])
def test_broken_replayed_reasoning_rides_opaque(payload: str) -> None:
    item = {"type": "reasoning", "encrypted_content": _ours(payload), "summary": []}
    req = parse_responses_request(responses(input=[item, {"role": "user", "content": "go"}]))
    assert isinstance(req.messages[0].parts[0], OpaquePart)


def test_a_clients_tool_namespaces_field_cannot_break_the_parser() -> None:
    tools = [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}]
    item = {"type": "function_call", "call_id": "c", "name": "f", "namespace": "ns", "arguments": "{}"}
    for junk in (5, [1], {"f": 1}, "x"):
        req = parse_responses_request(responses(tool_namespaces=junk, tools=tools, input=[item]))
        assert req.extra["tool_namespaces"] == {"f": {"namespace": "ns", "name": "f"}}


# --- over HTTP ---------------------------------------------------------------------------------


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the upstream must not be called: {request.method} {request.url}")


def make_app() -> Quart:
    keys = KeyStore(ENV, KEY, use_keyring=False)
    return create_app(Config(), gateway_key=KEY, keys=keys, env=ENV, transport=httpx.MockTransport(_refuse))


async def post(app: Quart, path: str, data: bytes) -> tuple[int, Any]:
    headers = {"x-api-key": KEY, "host": "127.0.0.1:8787", "content-type": "application/json"}
    async with app.test_app() as test_app:
        resp = await test_app.test_client().post(path, data=data, headers=headers)
        raw = await resp.get_data()
    return resp.status_code, json.loads(raw)


def message_of(path: str, body: Any) -> str:
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert body["request_id"].startswith("req_gw_")
    else:
        assert body["error"]["type"] == "invalid_request_error"
        assert set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["message"])


PATHS = ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/v1/responses"]
BIG = b"9" * 5000
CASES = {
    "nested": (nested(100_000), "depth"),
    "nested-inside": (
        json.dumps(anthropic(metadata={"x": "HOLE"})).encode().replace(b'"HOLE"', nested(1000)),
        "deeper than",
    ),
    "huge-max-tokens": (
        b'{"model":"gpt-5.5","max_tokens":' + BIG + b',"max_output_tokens":' + BIG + b"}",
        "not valid JSON",
    ),
    "lone-surrogate": (
        b'{"model":"gpt-5.5","input":"\\ud800","messages":[{"role":"user","content":"\\ud800"}]}',
        "surrogate",
    ),
    "encoded-surrogate": (
        b'{"model":"gpt-5.5","input":"\xed\xa0\x80","messages":[{"role":"user","content":"\xed\xa0\x80"}]}',
        "UTF-8",
    ),
    "nan": (b'{"model":"gpt-5.5","temperature":NaN,"input":"x","messages":[]}', "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("path", PATHS)
async def test_malformed_bodies_are_400_over_http(path: str, case: str) -> None:
    raw, needle = CASES[case]
    status, body = await post(make_app(), path, raw)
    assert status == 400
    assert needle in message_of(path, body)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/messages", anthropic(max_tokens=MAX_COUNT + 1), "max_tokens"),
        ("/v1/chat/completions", chat(max_tokens=2**63), "max_tokens"),
        ("/v1/responses", responses(max_output_tokens=2**64 - 1), "max_output_tokens"),
    ],
)
async def test_out_of_range_counts_are_400_naming_the_field(path: str, body: Any, param: str) -> None:
    status, out = await post(make_app(), path, json.dumps(body).encode())
    assert status == 400
    assert param in message_of(path, out)
    if path != "/v1/messages":
        assert out["error"]["param"] == param
