"""The demo's scripted agent session, sent through the real gateway like Claude Code would.

Requests carry Claude Code's shape: a large cached system prompt, tool schemas, a session id
header, the ``claude-cli`` user agent, streaming. ``Agent`` plays the client side of the tool
loop (answering each ``tool_use`` with a canned ``tool_result``); the scripted turns cover
Claude Code's housekeeping too (quota probe, session title, summaries). Owns no server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

USER_AGENT = "claude-cli/2.1.330 (external, cli)"
MAIN_MODEL = "claude-sonnet-4-5"
SMALL_MODEL = "claude-haiku-4-5"
_GUIDE = (
    "When you run a shell command, explain what it does. Prefer the dedicated tools (Read, Edit, "
    "Grep) over shell equivalents. Keep answers short; the user reads them in a terminal. Never "
    "commit unless asked. Run the project's tests after a change and report failures verbatim. "
)
SYSTEM_TEXT = "You are Claude Code, an interactive CLI tool that helps with software engineering.\n" + (
    "\n".join(f"- Guideline {i}: {_GUIDE}" for i in range(1, 260))
)
TOOLS: list[dict[str, Any]] = [
    {
        "name": name,
        "description": f"{summary} " + _GUIDE * 3,
        "input_schema": {
            "type": "object",
            "properties": {arg: {"type": "string", "description": f"The {arg}."} for arg in args},
            "required": list(args[:1]),
        },
    }
    for name, summary, args in (
        ("Bash", "Run a shell command in the project directory.", ("command", "description")),
        ("Read", "Read a file from the local filesystem.", ("file_path", "offset", "limit")),
        ("Edit", "Replace a string in a file.", ("file_path", "old_string", "new_string")),
        ("Grep", "Search file contents with a regular expression.", ("pattern", "path", "glob")),
        ("Write", "Write a whole file.", ("file_path", "content")),
    )
]
TOOL_OUTPUT = {
    "Grep": "daemon/http/since.py:14:def parse_since(value: str | None, *, now: float | None = None)",
    "Read": "1\t'''Parsing the since query parameter'''\n2\timport re\n" + "3\t# …\n" * 40,
    "Edit": "The file daemon/http/since.py has been updated.",
    "Bash": "........................................ [100%]\n312 passed in 4.21s",
}
TASKS = (
    "The test tests/unit/test_since.py fails on 14d. Make parse_since accept any number of days.",
    "Add a test for the new behaviour and run the whole unit suite.",
    "rename the helper _window to parse_window everywhere",
    "Why does the retention prune run twice on start? Investigate and fix it.",
)


class Agent:
    """One Claude Code-like session against the gateway at ``base``."""

    def __init__(self, client: httpx.Client, base: str, key: str) -> None:
        self.client = client
        self.base = base
        self.session = str(uuid.uuid4())
        self.headers = {
            "x-api-key": key,
            "anthropic-version": "2023-06-01",
            "user-agent": USER_AGENT,
            "x-claude-code-session-id": self.session,
        }
        self.history: list[dict[str, Any]] = []
        self.sent = 0
        self.failed = 0

    def _post(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Send one Messages request; the final message (streams are read to the end)."""
        self.sent += 1
        try:
            with self.client.stream(
                "POST", self.base + "/v1/messages", json=body, headers=self.headers
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self.failed += 1
                    return None
                if not body.get("stream"):
                    return dict(json.loads(resp.read()))
                return _collect(resp.iter_lines())
        except httpx.HTTPError:
            self.failed += 1
            return None

    def quota_probe(self) -> None:
        self._post(
            {"model": SMALL_MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
        )

    def title(self, prompt: str) -> None:
        schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
        self._post(
            {
                "model": SMALL_MODEL,
                "max_tokens": 512,
                "system": [{"type": "text", "text": "Write a 3-7 word title for this coding session."}],
                "messages": [{"role": "user", "content": prompt}],
                "output_config": {"format": {"type": "json_schema", "schema": schema}},
            }
        )

    def summary(self, what: str = "Summarize what we changed, for the commit message.") -> None:
        said = [
            block.get("text", "")
            for m in self.history[-12:]
            if m["role"] == "assistant"
            for block in m["content"]
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        transcript = "\n".join(f"Assistant: {text[:400]}" for text in said if text)
        self._post(
            {
                "model": MAIN_MODEL,
                "max_tokens": 2048,
                "stream": True,
                "messages": [{"role": "user", "content": f"{what}\n\n{transcript}"}],
            }
        )

    def task(self, prompt: str, *, max_steps: int = 8) -> None:
        """A user turn and the tool loop that follows it, until the model answers in text."""
        self.history.append({"role": "user", "content": prompt})
        for _ in range(max_steps):
            system = [{"type": "text", "text": SYSTEM_TEXT, "cache_control": {"type": "ephemeral"}}]
            body = {
                "model": MAIN_MODEL,
                "max_tokens": 32_000,
                "stream": True,
                "system": system,
                "tools": TOOLS,
                "messages": self.history,
            }
            message = self._post(body)
            if message is None:
                return
            content = message.get("content") or []
            self.history.append({"role": "assistant", "content": content})
            calls = [b for b in content if b.get("type") == "tool_use"]
            if not calls:
                return
            results = [
                {"type": "tool_result", "tool_use_id": c["id"], "content": TOOL_OUTPUT.get(c["name"], "ok")}
                for c in calls
            ]
            self.history.append({"role": "user", "content": results})


def _collect(lines: Iterator[str]) -> dict[str, Any]:
    """The final message of an Anthropic SSE stream (text and tool_use blocks)."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    message: dict[str, Any] = {}
    for line in lines:
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        kind = event.get("type")
        if kind == "message_start":
            message = dict(event["message"])
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            delta = event["delta"]
            block = blocks.setdefault(event["index"], {"type": "text", "text": ""})
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            elif delta.get("type") == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif kind == "message_delta":
            message.update(event.get("delta", {}))
    for index, raw in partial.items():
        blocks[index]["input"] = json.loads(raw or "{}")
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message
