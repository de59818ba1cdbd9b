"""The demo's simulated LLM providers: one loopback aiohttp server speaking Anthropic Messages
(``/<provider>/v1/messages``) and Chat Completions (``/<provider>/v1/chat/completions``), each
provider under its own path prefix so failures can be injected per provider.

Its "model" is scripted: with tools offered it asks for a few tool calls (the agent's loop) and
then answers; without, it writes a short text. Usage looks like real traffic: prompts sized from
the request (4 characters a token), Anthropic prompt caching simulated per system prompt (first
turn writes the cache, later turns read it). Streaming and non-streaming both work. Runs its own
event loop in a thread. Owns nothing of the gateway; used only by ``stackbilt-gw demo``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

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


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class SimulatedUpstream:
    """``start()`` → serving on ``url``; ``fail(provider, times)`` → its next calls answer 503."""

    def __init__(self, host: str = "127.0.0.1", *, latency: float = 0.05, seed: int = 7) -> None:
        self.host = host
        self.port = 0
        self.latency = latency
        self.calls: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._cached: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider: str) -> str:
        """The base URL to give the gateway for ``provider`` (Chat providers end in ``/v1``)."""
        return f"{self.url}/{provider}" + ("" if provider == "anthropic" else "/v1")

    def fail(self, provider: str, times: int) -> None:
        with self._lock:
            self._failures[provider] = self._failures.get(provider, 0) + times

    def _take_failure(self, provider: str) -> bool:
        with self._lock:
            self.calls[provider] = self.calls.get(provider, 0) + 1
            left = self._failures.get(provider, 0)
            if left:
                self._failures[provider] = left - 1
            return left > 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimulatedUpstream:
        # A client going away mid-answer (Ctrl-C) is normal here, not worth a traceback.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/{provider}/v1/messages", self._anthropic)
            app.router.add_post("/{provider}/v1/chat/completions", self._chat)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, 0)
            loop.run_until_complete(site.start())
            self.port = int(self._runner.addresses[0][1])
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="demo-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the simulated upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- the scripted model ------------------------------------------------------------------
    def _reply(self, body: dict[str, Any], tools_key: str) -> tuple[str, tuple[str, dict[str, Any]] | None]:
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
        if body.get(tools_key) and results < min(loop, len(TOOL_SCRIPT)):
            return "", TOOL_SCRIPT[results]
        if body.get("max_tokens") == 1 or body.get("max_completion_tokens") == 1:
            return "ok", None
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

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        body = await request.json()
        await asyncio.sleep(self.latency * (1 + self._rng.random()))
        if self._take_failure(provider):
            return web.json_response(
                {"type": "error", "error": {"type": "api_error", "message": "simulated outage (demo)"}},
                status=503,
            )
        text, tool = self._reply(body, "tools")
        output = max(8, len(text) // 4) + (40 if tool else 0)
        usage = self._anthropic_usage(body, output)
        msg_id = f"msg_demo_{self._rng.randrange(16**12):012x}"
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if tool:
            blocks.append(
                {"type": "tool_use", "id": f"toolu_{msg_id[-10:]}", "name": tool[0], "input": tool[1]}
            )
        stop = "tool_use" if tool else "end_turn"
        message = {"id": msg_id, "type": "message", "role": "assistant", "model": body.get("model")}
        if not body.get("stream"):
            return web.json_response(
                {**message, "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
            )
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        start_usage = {**usage, "output_tokens": 1}
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
        await resp.write(_sse("message_start", {"type": "message_start", "message": start}))
        for i, block in enumerate(blocks):
            first: dict[str, Any]
            if block["type"] == "text":
                first = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                first = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            await resp.write(
                _sse(
                    "content_block_start", {"type": "content_block_start", "index": i, "content_block": first}
                )
            )
            await resp.write(
                _sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            )
            await resp.write(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
        end = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
        await resp.write(_sse("message_delta", {**end, "usage": {"output_tokens": output}}))
        await resp.write(_sse("message_stop", {"type": "message_stop"}))
        await resp.write_eof()
        return resp

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        body = await request.json()
        await asyncio.sleep(self.latency * (0.5 + self._rng.random()))
        if self._take_failure(provider):
            error = {"message": "simulated outage (demo)", "type": "server_error", "code": "unavailable"}
            return web.json_response({"error": error}, status=503)
        text, tool = self._reply(body, "tools")
        output = max(8, len(text) // 4) + (30 if tool else 0)
        prompt = _tokens([body.get("messages"), body.get("tools")])
        usage = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}
        chat_id = f"chatcmpl-demo{self._rng.randrange(16**10):010x}"
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool:
            args = json.dumps(tool[1])
            call = {
                "id": f"call_{chat_id[-8:]}",
                "type": "function",
                "function": {"name": tool[0], "arguments": args},
            }
            message["tool_calls"] = [call]
        finish = "tool_calls" if tool else "stop"
        base = {"id": chat_id, "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish}
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        chunk = {**base, "object": "chat.completion.chunk"}
        delta: dict[str, Any] = {"role": "assistant", "content": text or ""}
        if tool:
            delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
        await resp.write(
            _sse(None, {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        )
        await resp.write(
            _sse(None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        )
        await resp.write(_sse(None, {**chunk, "choices": [], "usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
