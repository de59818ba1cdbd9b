"""The tests' scripted model: deterministic answers driven by markers in the latest user turn.

- a tool result in the latest turn → text ``TOOL_RESULT_SEEN: <result text>``
- ``RUN_BASH: <command>``          → a ``Bash`` tool call ``{"command": …, "description": …}``
- ``RUN_SHELL: <command>``         → an ``exec_command`` tool call ``{"cmd": …}`` (Codex)
- ``APPLY_PATCH: <path>``          → an ``apply_patch`` custom tool call adding ``<path>`` (Codex)
- ``READ_FILE: <path>``            → a ``Read`` tool call ``{"file_path": …}``
- ``RUN_AGENT: <task>``            → an ``Agent`` tool call (Claude Code starts a subagent with
                                     ``<task>`` as its prompt)
- ``THINK``                        → a signed thinking block (Anthropic), ``reasoning_content``
                                     deltas (Chat) or a ``reasoning`` item (Responses; with
                                     ``encrypted_content`` when ``include`` asks) before the answer
- ``SLOW``                         → 0.3 s between stream deltas
- ``COMPACT`` (a compaction call)  → a JSON fact set (``MERGE``: a merged one); with
                                     ``compact_malformed = n`` the next n such answers are
                                     malformed JSON instead
- otherwise                        → text ``FAKE_REPLY <n> words. Done.``
- ``output_config.effort`` "low"/"minimal" (Anthropic) → a third of the output tokens

Usage is fixed per wire (the e2e tests assert it). Owns only what the model says; the wires
render it and ``upstream`` serves it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from .reply import Call, Reply, ToolCall, Wire, latest_turn, pieces

SIGNATURE_PREFIX = "fake-sig-"
ENCRYPTED_PREFIX = "fake-enc-"
SLOW_DELAY = 0.3
_USAGE: dict[Wire, dict[str, Any]] = {
    "anthropic": {
        "input_tokens": 120,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 400,
        "output_tokens": 17,
    },
    "chat": {
        "prompt_tokens": 500,
        "completion_tokens": 21,
        "total_tokens": 521,
        "prompt_tokens_details": {"cached_tokens": 300},
    },
    "responses": {
        "input_tokens": 900,
        "input_tokens_details": {"cached_tokens": 600},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 930,
    },
}
_ID_PREFIX: dict[Wire, str] = {"anthropic": "msg_fake", "chat": "chatcmpl-fake", "responses": "resp_fake"}


@dataclass
class MarkerScript:
    # The next this many COMPACT answers are malformed (then valid ones again).
    compact_malformed: int = 0

    def latency(self, wire: Wire) -> float:
        return 0.0

    def delay(self, call: Call) -> float:
        return SLOW_DELAY if "SLOW" in latest_turn(call)[0] else 0.0

    def reply(self, call: Call) -> Reply:
        text, result = latest_turn(call)
        reply = Reply(
            id=_ID_PREFIX[call.wire] + str(call.number),
            model=call.body.get("model"),
            usage=_lowered(dict(_USAGE[call.wire]), call),
            created=int(time.time()),
        )
        if call.wire == "anthropic":
            reply.headers["request-id"] = f"req_fake_{call.number}"
        if result is None and "COMPACT" in text:
            reply.text = pieces(self._compact_answer(text), 3)
            return reply
        if result is not None:
            reply.text = pieces(f"TOOL_RESULT_SEEN: {result.strip()[-200:]}", 3)
            return reply
        if "THINK" in text:
            if call.wire == "anthropic":
                thought = "I should use a tool for this."
                reply.thinking = [thought]
                reply.signature = SIGNATURE_PREFIX + hashlib.sha256(thought.encode()).hexdigest()[:24]
            elif call.wire == "chat":
                reply.thinking = pieces("Thinking about the tool.", 2)
            else:  # Responses: a reasoning item, encrypted only when the request asked for it
                thought = "Thinking about the tool."
                reply.thinking = pieces(thought, 2)
                if "reasoning.encrypted_content" in (call.body.get("include") or []):
                    digest = hashlib.sha256(f"{thought}:{call.number}".encode()).hexdigest()[:24]
                    reply.signature = ENCRYPTED_PREFIX + digest
        reply.tool = _tool(text, call.wire)
        if reply.tool is None:
            reply.text = pieces(f"FAKE_REPLY {len(text.split())} words. Done.", 3)
        return reply

    def _compact_answer(self, text: str) -> str:
        if self.compact_malformed > 0:
            self.compact_malformed -= 1
            return 'Here are the facts: {"durable_facts": "not a list"}'
        if "MERGE" in text:
            summary = f"merged {text.count('<facts part=')} fact sets"
        else:
            m = re.search(r"part (\d+) of (\d+)", text)
            summary = f"part {m.group(1)} of {m.group(2)}: {len(text)} chars" if m else "compacted"
        facts = {
            "durable_facts": [summary],
            "decisions_made": ["use the fake model"],
            "files_changed": [{"path": "src/app.py", "change": "edited"}, "README.md"],
            "open_questions": [],
            "next_actions": ["continue"],
            "context_to_discard": ["verbose tool output"],
        }
        return json.dumps(facts)


# Output tokens at a low reasoning effort, as a share of the fixed usage (a lower effort says less).
LOW_EFFORT_OUTPUT_SHARE = 3


def _lowered(usage: dict[str, Any], call: Call) -> dict[str, Any]:
    """An Anthropic answer asked at effort "low"/"minimal" reports a third of the output tokens."""
    config = call.body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if call.wire == "anthropic" and effort in ("low", "minimal"):
        usage["output_tokens"] = max(1, usage["output_tokens"] // LOW_EFFORT_OUTPUT_SHARE)
    return usage


def _tool(text: str, wire: Wire) -> ToolCall | None:
    custom = False
    if m := re.search(r"RUN_SHELL:\s*(.+?)\s*(?:$|\n)", text):
        name, args = "exec_command", {"cmd": m.group(1)}
    elif m := re.search(r"APPLY_PATCH:\s*(\S+)", text):
        patch = f'*** Begin Patch\n*** Add File: {m.group(1)}\n+patched by "fake" model\n*** End Patch\n'
        name, args, custom = "apply_patch", {"input": patch}, True
    elif m := re.search(r"RUN_BASH:\s*(.+?)\s*(?:$|\n)", text):
        name, args = "Bash", {"command": m.group(1), "description": "Run the command"}
    elif m := re.search(r"RUN_AGENT:\s*(.+?)\s*(?:$|\n)", text):
        name = "Agent"
        args = {"description": "Subagent task", "prompt": m.group(1), "subagent_type": "general-purpose"}
    elif m := re.search(r"READ_FILE:\s*(\S+)", text):
        name, args = "Read", {"file_path": m.group(1)}
    else:
        return None
    digest = hashlib.sha256(json.dumps(args).encode()).hexdigest()
    call_id = "toolu_fake" + digest[:16] if wire == "anthropic" else "call_fake" + digest[:12]
    return ToolCall(name, dict(args), call_id, custom=custom)
