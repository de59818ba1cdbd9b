"""OpenAI Chat Completions as the simulated upstream writes it (``POST …/v1/chat/completions``).

Owns rendering a ``Reply`` as a ``chat.completion`` body and as its ``chat.completion.chunk``
stream (role, ``reasoning_content`` deltas, content deltas, one tool call's name then argument
deltas, the finish chunk, the usage chunk when ``stream_options.include_usage`` asks for it, and
``[DONE]``), and the OpenAI error body (shared with ``responses``). A mid-stream fault drops the
connection at the second content delta. Does not own what the model says nor serving.
"""

from __future__ import annotations

from typing import Any

from .reply import Reply, Stream, dumps, pieces


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "fake_error", "code": None}}


def _call(reply: Reply) -> dict[str, Any] | None:
    if reply.tool is None:
        return None
    function = {"name": reply.tool.name, "arguments": reply.tool.arguments}
    return {"id": reply.tool.id, "type": "function", "function": function}


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool is not None else "stop"


def message(reply: Reply) -> dict[str, Any]:
    """The non-streaming body."""
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(reply.text) or None}
    if reply.thinking:
        msg["reasoning_content"] = "".join(reply.thinking)
    call = _call(reply)
    if call is not None:
        msg["tool_calls"] = [call]
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [{"index": 0, "message": msg, "finish_reason": _finish(reply)}],
        "usage": reply.usage,
    }


def stream(reply: Reply, include_usage: bool) -> Stream:
    """The SSE body (``data:`` lines only); a fault cuts it at the second content delta."""
    base = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created, "model": reply.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {dumps(data)}\n\n".encode()

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"reasoning_content": p}) for p in reply.thinking]
    text_at = len(frames)
    frames += [chunk({"content": p}) for p in reply.text if p]
    cut = text_at + 1 if len(frames) - text_at >= 2 else len(frames)
    call = _call(reply)
    if call is not None and reply.tool is not None:
        head = {**call, "function": {"name": reply.tool.name, "arguments": ""}}
        frames.append(chunk({"tool_calls": [{"index": 0, **head}]}))
        frames += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
            for p in pieces(reply.tool.arguments, reply.tool.chunks)
        ]
    frames.append(chunk({}, _finish(reply)))
    if include_usage or reply.always_usage:
        frames.append(f"data: {dumps({**base, 'choices': [], 'usage': reply.usage})}\n\n".encode())
    frames.append(b"data: [DONE]\n\n")
    return Stream(frames, cut)
