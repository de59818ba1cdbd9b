"""Anthropic Messages as the simulated upstream writes it (``POST …/v1/messages``).

Owns rendering a ``Reply`` as a Messages JSON body and as its SSE stream (``message_start``,
``ping``, one ``content_block_*`` group per thinking / text / tool_use block, ``message_delta``,
``message_stop``), and Anthropic's error body. A mid-stream fault tears the last block's first
event. Does not own what the model says (the scripts) nor serving (``upstream``, ``fast``).
"""

from __future__ import annotations

from typing import Any

from .reply import Reply, Stream, pieces, sse

TORN = b'event: content_block_delta\ndata: {"type":"content_blo'
_ERROR_TYPES = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}


def error_body(status: int, message: str) -> dict[str, Any]:
    etype = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": etype, "message": message}}


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking:
        blocks.append({"type": "thinking", "thinking": "".join(reply.thinking), "signature": reply.signature})
    if "".join(reply.text):
        blocks.append({"type": "text", "text": "".join(reply.text)})
    if reply.tool is not None:
        tool = reply.tool
        blocks.append({"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool.args})
    return blocks


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool is not None else "end_turn"


def message(reply: Reply) -> dict[str, Any]:
    """The non-streaming body."""
    return {
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": _blocks(reply),
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": reply.usage,
    }


def _block_frames(i: int, block: dict[str, Any], reply: Reply) -> list[bytes]:
    def start(content_block: dict[str, Any]) -> bytes:
        return sse(
            "content_block_start", {"type": "content_block_start", "index": i, "content_block": content_block}
        )

    def delta(d: dict[str, Any]) -> bytes:
        return sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})

    kind = block["type"]
    if kind == "thinking":
        frames = [start({"type": "thinking", "thinking": "", "signature": ""})]
        frames += [delta({"type": "thinking_delta", "thinking": p}) for p in reply.thinking]
        frames.append(delta({"type": "signature_delta", "signature": block["signature"]}))
    elif kind == "text":
        frames = [start({"type": "text", "text": ""})]
        frames += [delta({"type": "text_delta", "text": p}) for p in reply.text if p]
    else:
        assert reply.tool is not None
        frames = [start({**block, "input": {}})]
        frames += [
            delta({"type": "input_json_delta", "partial_json": p})
            for p in pieces(reply.tool.arguments, reply.tool.chunks)
        ]
    frames.append(sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    return frames


def stream(reply: Reply) -> Stream:
    """The SSE body; a fault cuts it where the last content block starts."""
    msg = message(reply)
    start = {**msg, "content": [], "stop_reason": None, "usage": {**reply.usage, "output_tokens": 1}}
    frames = [
        sse("message_start", {"type": "message_start", "message": start}),
        sse("ping", {"type": "ping"}),
    ]
    cut = len(frames)
    for i, block in enumerate(msg["content"]):
        cut = len(frames)
        frames += _block_frames(i, block, reply)
    end = {"stop_reason": msg["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": reply.usage.get("output_tokens", 0)}
    frames.append(sse("message_delta", {"type": "message_delta", "delta": end, "usage": usage}))
    frames.append(sse("message_stop", {"type": "message_stop"}))
    return Stream(frames, cut, TORN, unpaced=2)
