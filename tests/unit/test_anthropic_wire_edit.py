"""Pass-through to Anthropic drops gateway-signed thinking blocks, however the client encoded
them, and forwards a body without any byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.execute.passthrough import upstream_body
from stackbilt_gateway.daemon.upstream.targets import Target
from stackbilt_gateway.daemon.wires.registry import WIRES
from tests.conftest import DATA_DIR

MODEL = "claude-opus-5-5"


def _body(signature: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": signature},
                    {"type": "text", "text": "hello"},
                ],
            },
            {"role": "user", "content": "and?"},
        ],
    }


def _escape_all(text: str) -> str:
    """JSON text with every character of every string value spelled as a \\u escape."""

    def enc(value: Any) -> Any:
        if isinstance(value, str):
            return "".join(f"\\u{ord(c):04{'X' if ord(c) % 2 else 'x'}}" for c in value)
        if isinstance(value, list):
            return [enc(v) for v in value]
        if isinstance(value, dict):
            return {k: enc(v) for k, v in value.items()}
        return value

    return json.dumps(enc(json.loads(text))).replace("\\\\u", "\\u")


def _send(raw: bytes) -> bytes:
    target = Target(builtin_providers()["anthropic"], MODEL, "http://upstream")
    return upstream_body(raw, json.loads(raw), target, WIRES["anthropic"])


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: json.dumps(b),
        lambda b: json.dumps(b, indent=2, ensure_ascii=True),
        lambda b: _escape_all(json.dumps(b)),
    ],
    ids=["compact", "indented", "all-escaped"],
)
def test_gateway_thinking_is_removed_before_anthropic(encode: Any) -> None:
    raw = encode(_body("gw:abc")).encode()
    assert json.loads(raw) == _body("gw:abc")  # the encoding is faithful
    sent = json.loads(_send(raw))
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "hello"}]


def test_a_body_without_gateway_thinking_goes_byte_for_byte() -> None:
    raw = json.dumps(_body("EqQBCkgIAhABGAIiQ...anthropic-signature")).encode()
    assert _send(raw) is raw
    capture = json.loads((DATA_DIR / "clients" / "claude-code" / "messages_tool_turn1.json").read_text())
    real = json.dumps(capture["request"]["body"], ensure_ascii=False).encode()
    assert _send(real) is real


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.sets(st.integers(0, 2)))
def test_escaped_gateway_signatures_are_found_too(tail: str, escaped: set[int]) -> None:
    signature = "".join(f"\\u{ord(c):04x}" if i in escaped else c for i, c in enumerate("gw:")) + "SIG"
    raw = json.dumps(_body("PLACEHOLDER") | {"metadata": {"user_id": tail}}).replace("PLACEHOLDER", signature)
    assert json.loads(raw)["messages"][1]["content"][0]["signature"] == "gw:SIG"
    assert "gw:" not in json.dumps(json.loads(_send(raw.encode())))
