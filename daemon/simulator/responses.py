"""OpenAI Responses as the simulated upstream writes it (``POST …/v1/responses``).

Owns rendering a ``Reply`` as a ``response`` object (a ``reasoning`` item when it thinks, with
its ``encrypted_content`` when it has one; a ``message`` item and/or one ``function_call`` /
``custom_tool_call`` item) and as its typed SSE stream with sequence numbers
(``response.created`` … ``response.completed``). Errors use the Chat error body. A mid-stream
fault drops the connection after ``response.in_progress``. Does not own what the model says nor
serving.
"""

from __future__ import annotations

from typing import Any

from .chat import error_body
from .reply import Reply, Stream, pieces, sse

__all__ = ["error_body", "response", "stream"]


def _items(reply: Reply) -> list[dict[str, Any]]:
    suffix = reply.id.split("_", 1)[-1]
    items: list[dict[str, Any]] = []
    thought = "".join(reply.thinking)
    if thought:
        reasoning: dict[str, Any] = {
            "type": "reasoning",
            "id": f"rs_{suffix}",
            "summary": [{"type": "summary_text", "text": thought}],
        }
        if reply.signature:
            reasoning["encrypted_content"] = reply.signature
        items.append(reasoning)
    text = "".join(reply.text)
    if text:
        part = {"type": "output_text", "text": text, "annotations": []}
        items.append(
            {
                "type": "message",
                "id": f"msg_{suffix}",
                "status": "completed",
                "error": None,  # the real API sends it on every body
                "role": "assistant",
                "content": [part],
            }
        )
    tool = reply.tool
    if tool is not None:
        common = {"status": "completed", "call_id": tool.id, "name": tool.name}
        if tool.custom:
            items.append(
                {
                    "type": "custom_tool_call",
                    "id": f"ctc_{suffix}",
                    **common,
                    "input": str(tool.args["input"]),
                }
            )
        else:
            items.append(
                {"type": "function_call", "id": f"fc_{suffix}", **common, "arguments": tool.arguments}
            )
    return items


def response(reply: Reply) -> dict[str, Any]:
    """The non-streaming body (also the ``response.completed`` event's ``response``)."""
    return {
        "id": reply.id,
        "object": "response",
        "created_at": reply.created,
        "status": "completed",
        "model": reply.model,
        "output": _items(reply),
        "usage": reply.usage,
    }


def _item_events(idx: int, item: dict[str, Any], reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    at = {"item_id": item["id"], "output_index": idx}
    kind = item["type"]
    if kind == "reasoning":
        summary = item["summary"][0]
        at_summary = {**at, "summary_index": 0}
        events = [
            ("response.output_item.added", {"output_index": idx, "item": {**item, "summary": []}}),
            ("response.reasoning_summary_part.added", {**at_summary, "part": {**summary, "text": ""}}),
        ]
        events += [
            ("response.reasoning_summary_text.delta", {**at_summary, "delta": p}) for p in reply.thinking
        ]
        events += [
            ("response.reasoning_summary_text.done", {**at_summary, "text": summary["text"]}),
            ("response.reasoning_summary_part.done", {**at_summary, "part": summary}),
        ]
    elif kind == "message":
        part = item["content"][0]
        text_at = {**at, "content_index": 0}
        empty = {**part, "text": ""}
        events = [
            (
                "response.output_item.added",
                {"output_index": idx, "item": {**item, "status": "in_progress", "content": []}},
            ),
            ("response.content_part.added", {**text_at, "part": empty}),
        ]
        events += [
            ("response.output_text.delta", {**text_at, "delta": p, "logprobs": []}) for p in reply.text if p
        ]
        events += [
            ("response.output_text.done", {**text_at, "text": part["text"], "logprobs": []}),
            ("response.content_part.done", {**text_at, "part": part}),
        ]
    else:
        assert reply.tool is not None
        field, event = (
            ("input", "custom_tool_call_input")
            if kind == "custom_tool_call"
            else ("arguments", "function_call_arguments")
        )
        events = [
            (
                "response.output_item.added",
                {"output_index": idx, "item": {**item, "status": "in_progress", field: ""}},
            )
        ]
        events += [
            (f"response.{event}.delta", {**at, "delta": p}) for p in pieces(item[field], reply.tool.chunks)
        ]
        events.append((f"response.{event}.done", {**at, field: item[field]}))
    events.append(("response.output_item.done", {"output_index": idx, "item": item}))
    return events


def stream(reply: Reply) -> Stream:
    """The SSE body; a fault cuts it after ``response.in_progress``."""
    done = response(reply)
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
    ]
    for idx, item in enumerate(done["output"]):
        events += _item_events(idx, item, reply)
    events.append(("response.completed", {"response": done}))
    frames = [
        sse(kind, {"type": kind, "sequence_number": seq, **data}) for seq, (kind, data) in enumerate(events)
    ]
    return Stream(frames, cut=2)
