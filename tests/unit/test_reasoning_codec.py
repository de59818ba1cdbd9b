"""The encrypted_content codec that carries Anthropic thinking through Responses clients."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.ir import ReasoningPart
from stackbilt_gateway.daemon.wires.reasoning_codec import PREFIX, decode_thinking, encode_thinking


def test_thinking_with_signature_round_trips() -> None:
    text = 'Let me think… "quotes", newlines\nand ünïcödé'
    encoded = encode_thinking(text, "EqQBCkYIARgCKkD+/=sig", None)
    assert encoded.startswith(PREFIX)
    assert "=" not in encoded[len(PREFIX) :]  # unpadded base64url: safe in any JSON/URL context
    assert decode_thinking(encoded) == ReasoningPart(
        text=text, signature="EqQBCkYIARgCKkD+/=sig", redacted=None, origin="anthropic"
    )


def test_redacted_thinking_round_trips() -> None:
    part = decode_thinking(encode_thinking("", None, "opaque-redacted-data"))
    assert part == ReasoningPart(text="", signature=None, redacted="opaque-redacted-data", origin="anthropic")


def test_foreign_and_broken_values_are_not_ours() -> None:
    assert decode_thinking("gAAAAABo-openai-encrypted-content") is None
    assert decode_thinking(None) is None
    assert decode_thinking(PREFIX + "!!!not base64!!!") is None
    not_json = PREFIX + base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=")
    assert decode_thinking(not_json) is None
    a_list = PREFIX + base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("=")
    assert decode_thinking(a_list) is None
    # neither signature nor redacted data: nothing Anthropic would accept back
    unsigned = PREFIX + base64.urlsafe_b64encode(b'{"t":"x"}').decode().rstrip("=")
    assert decode_thinking(unsigned) is None


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200), signature=st.text(min_size=1, max_size=80))
def test_any_text_and_signature_survive(text: str, signature: str) -> None:
    part = decode_thinking(encode_thinking(text, signature, None))
    assert part is not None
    assert (part.text, part.signature, part.origin) == (text, signature, "anthropic")
