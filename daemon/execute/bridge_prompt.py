"""What the Claude Code CLI bridge hands the ``claude`` CLI: the system text and the prompt.

Owns flattening an IR request into the CLI's two text inputs. The system text is the request's
system parts and any ``system`` messages, joined (a neutral default when there are none, so the
CLI's coding-agent prompt is not used). The prompt is the conversation: a single user turn is sent
as it is; a longer conversation is sent as a transcript with each turn in ``<user>`` /
``<assistant>`` tags and an instruction to answer its last user turn. Text only: an image, a
document, a tool call or a tool result is a 400 naming the message, and so is a request with
tools (the bridge offers none); earlier reasoning and protocol-only blocks are dropped
deliberately (they are not the conversation's text). Pure: no I/O.
"""

from __future__ import annotations

from ..core.errors import InvalidRequest
from ..core.ir import (
    DocumentPart,
    GatewayRequest,
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

DEFAULT_SYSTEM = "You are a helpful assistant."
INSTRUCTION = (
    "Here is a conversation between a user and an assistant. Write the assistant's reply to the "
    "last user turn, and nothing else."
)
_REFUSED = {
    ImagePart: "an image",
    DocumentPart: "a document",
    ToolCallPart: "a tool call",
    ToolResultPart: "a tool result",
}


def check_text_only(request: GatewayRequest, name: str) -> None:
    """A 400 for what the bridge cannot carry: tools, and non-text parts (naming the message)."""
    if request.tools:
        raise InvalidRequest(
            f"{name} does not take tools: the Claude Code CLI bridge serves text only "
            f"({len(request.tools)} tool(s) sent); send the request without tools or pin a model "
            "of an API provider",
            param="tools",
        )
    for i, message in enumerate(request.messages):
        for part in message.parts:
            what = _REFUSED.get(type(part))
            if what is not None:
                raise InvalidRequest(
                    f"{name} takes text only: message {i} ({message.role}) carries {what}",
                    param=f"messages[{i}]",
                )


def _text(message: Message) -> str:
    return "\n".join(p.text for p in message.parts if isinstance(p, TextPart) and p.text)


def system_text(request: GatewayRequest) -> str:
    texts = [p.text for p in request.system if p.text]
    texts += [t for m in request.messages if m.role == "system" and (t := _text(m))]
    return "\n\n".join(texts) or DEFAULT_SYSTEM


def prompt_text(request: GatewayRequest, name: str) -> str:
    """The prompt for stdin (see the module docstring); a 400 when there is no text to send."""
    turns = [(m.role, t) for m in request.messages if m.role != "system" and (t := _text(m))]
    if not turns:
        raise InvalidRequest(f"{name}: the request has no message text to send", param="messages")
    if len(turns) == 1 and turns[0][0] == "user":
        return turns[0][1]
    body = "\n\n".join(f"<{role}>\n{text}\n</{role}>" for role, text in turns)
    return f"{INSTRUCTION}\n\n{body}\n"
