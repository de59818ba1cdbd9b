"""The demo's scripted model: an agent that makes a few tool calls, then answers.

With tools offered it asks for 2-4 calls from ``TOOL_SCRIPT`` (how many is fixed by the task's
first message), then answers from ``ANSWERS``; a ``max_tokens: 1`` probe gets ``ok``. Usage looks
like real traffic: prompts sized from the request (4 characters a token) and Anthropic prompt
caching simulated per system prompt (the first turn writes the cache, later turns read it). Each
answer arrives after a jittered latency. Owns only what the model says; used by ``stackbilt-gw
demo`` through ``upstream.FakeUpstream``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from .reply import Call, Reply, ToolCall, Wire

# Tool calls the scripted agent makes before it answers, in order.
TOOL_SCRIPT: Sequence[tuple[str, dict[str, Any]]] = (
    ("Grep", {"pattern": "def parse_since", "path": "daemon"}),
    ("Read", {"file_path": "daemon/http/since.py"}),
    ("Edit", {"file_path": "daemon/http/since.py", "old_string": "7d", "new_string": "<N>d"}),
    ("Bash", {"command": "pytest -q tests/unit"}),
)
ANSWERS = (
    "Done: the parser now accepts any number of days, and the unit tests pass.",
    "The failing test expected a local-midnight boundary; fixed and re-ran the suite (312 passed).",
    "Renamed the helper and updated its two call sites; nothing else referenced it.",
    "Here is a summary of the session so far: refactored the since-parser, added tests, fixed a flake.",
)


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, separators=(",", ":"))) // 4)


class AgentScript:
    """Seeded, so a demo run is repeatable; safe to call from the upstream's thread."""

    def __init__(self, *, latency: float = 0.05, seed: int = 7) -> None:
        self.base_latency = latency
        self._rng = random.Random(seed)
        self._cached: dict[str, int] = {}
        self._lock = threading.Lock()

    def latency(self, wire: Wire) -> float:
        with self._lock:
            jitter = self._rng.random()
        return self.base_latency * ((1.0 if wire == "anthropic" else 0.5) + jitter)

    def delay(self, call: Call) -> float:
        return 0.0

    def reply(self, call: Call) -> Reply:
        body = call.body
        text, tool = self._decide(body)
        with self._lock:
            token = self._rng.randrange(16**12)
        reply = Reply(id="", model=body.get("model"), text=[text] if text else [], created=int(time.time()))
        if call.wire == "anthropic":
            reply.id = f"msg_demo_{token:012x}"
            output = max(8, len(text) // 4) + (40 if tool else 0)
            reply.usage = self._anthropic_usage(body, output)
            call_id = f"toolu_{reply.id[-10:]}"
        else:
            reply.id = (
                f"chatcmpl-demo{token % 16**10:010x}" if call.wire == "chat" else f"resp_demo{token:012x}"
            )
            output = max(8, len(text) // 4) + (30 if tool else 0)
            prompt = _tokens([body.get("messages") or body.get("input"), body.get("tools")])
            if call.wire == "chat":
                reply.usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": output,
                    "total_tokens": prompt + output,
                }
            else:
                reply.usage = {
                    "input_tokens": prompt,
                    "output_tokens": output,
                    "total_tokens": prompt + output,
                }
            reply.always_usage = True  # the demo's Chat providers report usage unasked
            call_id = f"call_{reply.id[-8:]}"
        if tool is not None:
            reply.tool = ToolCall(tool[0], dict(tool[1]), call_id, chunks=1)
        return reply

    def _decide(self, body: dict[str, Any]) -> tuple[str, tuple[str, dict[str, Any]] | None]:
        """(text, tool call or None) for this request."""
        messages = body.get("messages") or []
        results = sum(
            1
            for m in messages
            for part in (m.get("content") if isinstance(m.get("content"), list) else [])
            if isinstance(part, dict) and part.get("type") == "tool_result"
        ) + sum(1 for m in messages if m.get("role") == "tool")
        # How many tool calls this task takes (2 to 4), fixed by its first message.
        loop = 2 + len(json.dumps(messages[:1])) % 3
        if body.get("tools") and results < min(loop, len(TOOL_SCRIPT)):
            return "", TOOL_SCRIPT[results]
        if body.get("max_tokens") == 1 or body.get("max_completion_tokens") == 1:
            return "ok", None
        with self._lock:
            return self._rng.choice(ANSWERS), None

    def _anthropic_usage(self, body: dict[str, Any], output: int) -> dict[str, int]:
        prompt = _tokens([body.get("system"), body.get("messages"), body.get("tools")])
        key = hashlib.sha256(json.dumps(body.get("system"), sort_keys=True).encode()).hexdigest()
        with self._lock:
            cached = min(self._cached.get(key, 0), prompt)
            self._cached[key] = prompt
        cacheable = "cache_control" in json.dumps(body.get("system")) and prompt > 1024
        read = cached if cacheable else 0
        write = max(0, prompt - read - 200) if cacheable else 0
        return {
            "input_tokens": prompt - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "output_tokens": output,
        }
