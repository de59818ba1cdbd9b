"""Real client request captures (tests/data/clients) as IR requests, plus small edits of them.

Claude Code captures go through the real Anthropic adapter. Codex captures use a minimal local
Responses -> IR conversion (enough for routing signals: roles, tool calls/outputs, tools,
reasoning effort) so these tests do not depend on the Responses adapter.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import Any

from stackbilt_gateway.daemon.core.ir import (
    GatewayRequest,
    ImagePart,
    Message,
    TextPart,
    ThinkingConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from stackbilt_gateway.daemon.wires.anthropic.request import parse_request
from tests.conftest import DATA_DIR

CLIENTS = DATA_DIR / "clients"


@cache
def _body(client: str, name: str) -> str:
    return json.dumps(json.loads((CLIENTS / client / f"{name}.json").read_text("utf-8"))["request"]["body"])


def claude(name: str) -> GatewayRequest:
    return parse_request(json.loads(_body("claude-code", name)), require_max_tokens=False)


def _texts(content: Any) -> list[TextPart]:
    if isinstance(content, str):
        return [TextPart(content)]
    return [TextPart(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p]


def codex(name: str) -> GatewayRequest:
    body = json.loads(_body("codex", name))
    messages: list[Message] = []
    for item in body["input"]:
        kind = item.get("type")
        if kind == "message":
            role = {"developer": "system", "system": "system"}.get(item["role"], item["role"])
            messages.append(Message(role, list(_texts(item["content"]))))
        elif kind in ("function_call", "custom_tool_call"):
            args = {"input": item.get("input", item.get("arguments", ""))}
            messages.append(Message("assistant", [ToolCallPart(item["call_id"], item["name"], args)]))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            part = ToolResultPart(item["call_id"], list(_texts(item["output"])))
            if messages and messages[-1].role == "user":
                messages[-1].parts.append(part)
            else:
                messages.append(Message("user", [part]))
    tools = [
        ToolSpec(t.get("name", t.get("type", "")), t.get("description", ""), t.get("parameters") or {}, raw=t)
        for t in body.get("tools", [])
    ]
    effort = (body.get("reasoning") or {}).get("effort")
    return GatewayRequest(
        protocol="responses",
        model=body["model"],
        messages=messages,
        system=_texts(body.get("instructions") or []),
        tools=tools,
        thinking=ThinkingConfig(enabled=True, effort=effort) if effort else None,
        stream=bool(body.get("stream")),
    )


def with_user_text(req: GatewayRequest, text: str) -> GatewayRequest:
    """``req`` with its last user message's text replaced by ``text`` (tool results dropped)."""
    messages = list(req.messages)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            messages[i] = Message("user", [TextPart(text)])
            break
    return dataclasses.replace(req, messages=messages)


def append_turn(req: GatewayRequest, assistant: str, user: str) -> GatewayRequest:
    messages = [*req.messages, Message("assistant", [TextPart(assistant)]), Message("user", [TextPart(user)])]
    return dataclasses.replace(req, messages=messages)


def with_image(req: GatewayRequest) -> GatewayRequest:
    messages = list(req.messages)
    last = messages[-1]
    messages[-1] = Message(last.role, [*last.parts, ImagePart(media_type="image/png", data="iVBORw0KGgo=")])
    return dataclasses.replace(req, messages=messages)
