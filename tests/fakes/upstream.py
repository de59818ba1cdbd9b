"""A scripted fake LLM provider on loopback that speaks Anthropic Messages and Chat Completions.

Its "model" is deterministic, driven by markers in the latest user turn:

- a tool result in the latest turn          → text ``TOOL_RESULT_SEEN: <result text>``
- ``RUN_BASH: <command>``                   → a ``Bash`` tool call ``{"command": ...}``
- ``READ_FILE: <path>``                     → a ``Read`` tool call ``{"file_path": ...}``
- ``THINK``                                 → a signed thinking block (Anthropic) or
                                              ``reasoning_content`` deltas (Chat) before the answer
- ``SLOW``                                  → 0.3 s between stream chunks
- ``COMPACT`` (a compaction call)           → a JSON fact set (``MERGE``: a merged one); with
                                              ``compact_malformed = n`` the next n such
                                              answers are malformed JSON instead
- otherwise                                 → text ``FAKE_REPLY <n> words``

Failures are injected with ``fail_next``; every request is recorded for assertions.
Runs its own event loop in a thread so sync and async tests can use it alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SIGNATURE_PREFIX = "fake-sig-"


@dataclass
class Recorded:
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Failure:
    status: int
    body: Any
    headers: dict[str, str]
    # "before": an HTTP error; "midstream": 200, some events, then a dropped connection.
    mode: str = "before"
    # Only requests whose path ends with this take the failure (None: any request).
    path: str | None = None


@dataclass
class FakeUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    _failures: list[Failure] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    closed_streams: int = 0
    # The next this many COMPACT answers are malformed (then valid ones again).
    compact_malformed: int = 0

    # -- control ---------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        mode: str = "before",
        path: str | None = None,
    ) -> None:
        for _ in range(times):
            self._failures.append(Failure(status, body, headers or {}, mode, path))

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()
        self.compact_malformed = 0

    def calls(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application(client_max_size=256 * 1024 * 1024)
            app.router.add_post("/v1/messages", self._anthropic)
            app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_post("/v1/responses", self._responses)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- request plumbing -----------------------------------------------------------------
    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(request.path, request.query_string, dict(request.headers), body, raw)
        self.requests.append(rec)
        return rec

    def _take_failure(self, path: str) -> Failure | None:
        for i, f in enumerate(self._failures):
            if f.path is None or path.endswith(f.path):
                return self._failures.pop(i)
        return None

    @staticmethod
    def _error_response(f: Failure, anthropic: bool) -> web.Response:
        body = f.body
        if body is None:
            if anthropic:
                etype = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}.get(
                    f.status, "api_error" if f.status >= 500 else "invalid_request_error"
                )
                body = {
                    "type": "error",
                    "error": {"type": etype, "message": f"fake upstream error {f.status}"},
                }
            else:
                body = {
                    "error": {
                        "message": f"fake upstream error {f.status}",
                        "type": "fake_error",
                        "code": None,
                    }
                }
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=f.status, text=text, content_type="application/json", headers=f.headers)

    # -- the scripted model ---------------------------------------------------------------
    @staticmethod
    def _latest_user_text(messages: list[dict[str, Any]]) -> tuple[str, str | None]:
        """(text of the latest user turn, tool result text if that turn carries one)."""
        for msg in reversed(messages):
            role = msg.get("role")
            if role == "tool":
                return "", _text_of(msg.get("content"))
            if role != "user":
                continue
            content = msg.get("content")
            if isinstance(content, list):
                results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
                if results:
                    return "", _text_of(results[-1].get("content"))
            return _text_of(content), None
        return "", None

    @staticmethod
    def _latest_input_text(items: Any) -> tuple[str, str | None]:
        """Responses ``input``: (latest user text, tool output if the input ends with one)."""
        if isinstance(items, str):
            return items, None
        for item in reversed(items or []):
            kind = item.get("type", "message")
            if kind in ("function_call_output", "custom_tool_call_output"):
                out = item.get("output")
                return "", out if isinstance(out, str) else _text_of(out)
            if kind == "message" and item.get("role") == "user":
                return _text_of(item.get("content")), None
        return "", None

    def _plan(self, text: str, tool_result: str | None) -> dict[str, Any]:
        if tool_result is None and "COMPACT" in text:
            return {"text": self._compact_answer(text)}
        return self._decide(text, tool_result)

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

    @staticmethod
    def _decide(text: str, tool_result: str | None) -> dict[str, Any]:
        if tool_result is not None:
            return {"text": f"TOOL_RESULT_SEEN: {tool_result.strip()[-200:]}"}
        think = "THINK" in text
        m = re.search(r"RUN_SHELL:\s*(.+?)\s*(?:$|\n)", text)
        if m:
            return {"think": think, "tool": ("exec_command", {"cmd": m.group(1)})}
        m = re.search(r"APPLY_PATCH:\s*(\S+)", text)
        if m:
            patch = f'*** Begin Patch\n*** Add File: {m.group(1)}\n+patched by "fake" model\n*** End Patch\n'
            return {"think": think, "tool": ("apply_patch", {"input": patch}), "custom": True}
        m = re.search(r"RUN_BASH:\s*(.+?)\s*(?:$|\n)", text)
        if m:
            return {
                "think": think,
                "tool": ("Bash", {"command": m.group(1), "description": "Run the command"}),
            }
        m = re.search(r"READ_FILE:\s*(\S+)", text)
        if m:
            return {"think": think, "tool": ("Read", {"file_path": m.group(1)})}
        return {"think": think, "text": f"FAKE_REPLY {len(text.split())} words. Done."}

    # -- Anthropic ------------------------------------------------------------------------
    async def _count_tokens(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        f = self._take_failure(request.path)
        if f is not None:
            return self._error_response(f, anthropic=True)
        return web.json_response({"input_tokens": len(rec.raw) // 4 + 1})

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        f = self._take_failure(request.path)
        if f is not None and f.mode == "before":
            return self._error_response(f, anthropic=True)
        body = rec.body or {}
        text, result = self._latest_user_text(body.get("messages", []))
        plan = self._plan(text, result)
        blocks: list[dict[str, Any]] = []
        if plan.get("think"):
            thought = "I should use a tool for this."
            sig = SIGNATURE_PREFIX + hashlib.sha256(thought.encode()).hexdigest()[:24]
            blocks.append({"type": "thinking", "thinking": thought, "signature": sig})
        if "text" in plan:
            blocks.append({"type": "text", "text": plan["text"]})
        if "tool" in plan:
            name, args = plan["tool"]
            tid = "toolu_fake" + hashlib.sha256(json.dumps(args).encode()).hexdigest()[:16]
            blocks.append({"type": "tool_use", "id": tid, "name": name, "input": args})
        stop = "tool_use" if "tool" in plan else "end_turn"
        usage = {"input_tokens": 120, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 400}
        msg = {
            "id": "msg_fake" + str(len(self.requests)),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 17},
        }
        headers = {"request-id": "req_fake_" + str(len(self.requests))}
        if not body.get("stream"):
            return web.json_response(msg, headers=headers)
        delay = 0.3 if "SLOW" in text else 0.0
        resp = web.StreamResponse(headers={"content-type": "text/event-stream", **headers})
        await resp.prepare(request)
        try:
            start = {**msg, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
            await _sse(resp, "message_start", {"type": "message_start", "message": start})
            await _sse(resp, "ping", {"type": "ping"})
            for i, block in enumerate(blocks):
                if f is not None and f.mode == "midstream" and i == len(blocks) - 1:
                    await resp.write(b'event: content_block_delta\ndata: {"type":"content_blo')
                    raise ConnectionResetError("injected mid-stream drop")
                await self._anthropic_block(resp, i, block, delay)
            await _sse(
                resp,
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": 17},
                },
            )
            await _sse(resp, "message_stop", {"type": "message_stop"})
        except (ConnectionResetError, asyncio.CancelledError):
            self.closed_streams += 1
            raise
        return resp

    @staticmethod
    async def _anthropic_block(resp: web.StreamResponse, i: int, block: dict[str, Any], delay: float) -> None:
        kind = block["type"]
        if kind == "text":
            await _sse(
                resp,
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
            )
            for piece in _pieces(block["text"], 3):
                await asyncio.sleep(delay)
                await _sse(
                    resp,
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        elif kind == "thinking":
            await _sse(
                resp,
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
            await _sse(
                resp,
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "thinking_delta", "thinking": block["thinking"]},
                },
            )
            await _sse(
                resp,
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "signature_delta", "signature": block["signature"]},
                },
            )
        else:
            await _sse(
                resp,
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            for piece in _pieces(json.dumps(block["input"]), 3):
                await asyncio.sleep(delay)
                await _sse(
                    resp,
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        await _sse(resp, "content_block_stop", {"type": "content_block_stop", "index": i})

    # -- Chat Completions -----------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        f = self._take_failure(request.path)
        if f is not None and f.mode == "before":
            return self._error_response(f, anthropic=False)
        body = rec.body or {}
        text, result = self._latest_user_text(body.get("messages", []))
        plan = self._plan(text, result)
        cid = "chatcmpl-fake" + str(len(self.requests))
        created = int(time.time())
        model = body.get("model")
        tool = plan.get("tool")
        call = None
        if tool:
            call = {
                "id": "call_fake" + hashlib.sha256(json.dumps(tool[1]).encode()).hexdigest()[:12],
                "type": "function",
                "function": {"name": tool[0], "arguments": json.dumps(tool[1])},
            }
        finish = "tool_calls" if call else "stop"
        usage = {
            "prompt_tokens": 500,
            "completion_tokens": 21,
            "total_tokens": 521,
            "prompt_tokens_details": {"cached_tokens": 300},
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": plan.get("text")}
            if plan.get("think"):
                message["reasoning_content"] = "Thinking about the tool."
            if call:
                message["tool_calls"] = [call]
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
            )
        delay = 0.3 if "SLOW" in text else 0.0
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)

        async def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> None:
            await asyncio.sleep(delay)
            data = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            await resp.write(b"data: " + json.dumps(data).encode() + b"\n\n")

        try:
            await chunk({"role": "assistant", "content": ""})
            if plan.get("think"):
                for piece in _pieces("Thinking about the tool.", 2):
                    await chunk({"reasoning_content": piece})
            if plan.get("text"):
                for i, piece in enumerate(_pieces(plan["text"], 3)):
                    if f is not None and f.mode == "midstream" and i == 1:
                        raise ConnectionResetError("injected mid-stream drop")
                    await chunk({"content": piece})
            if call:
                args = call["function"]["arguments"]
                await chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
                for piece in _pieces(args, 3):
                    await chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            await chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                data = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
                await resp.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.closed_streams += 1
            raise
        return resp

    # -- OpenAI Responses -----------------------------------------------------------------
    async def _responses(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        f = self._take_failure(request.path)
        if f is not None and f.mode == "before":
            return self._error_response(f, anthropic=False)
        body = rec.body or {}
        text, result = self._latest_input_text(body.get("input"))
        plan = self._plan(text, result)
        n = len(self.requests)
        items: list[dict[str, Any]] = []
        if "text" in plan:
            items.append(
                {
                    "type": "message",
                    "id": f"msg_fake{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": plan["text"], "annotations": []}],
                }
            )
        if "tool" in plan:
            name, args = plan["tool"]
            call_id = "call_fake" + hashlib.sha256(json.dumps(args).encode()).hexdigest()[:12]
            if plan.get("custom"):
                items.append(
                    {
                        "type": "custom_tool_call",
                        "id": f"ctc_fake{n}",
                        "status": "completed",
                        "call_id": call_id,
                        "name": name,
                        "input": args["input"],
                    }
                )
            else:
                items.append(
                    {
                        "type": "function_call",
                        "id": f"fc_fake{n}",
                        "status": "completed",
                        "call_id": call_id,
                        "name": name,
                        "arguments": json.dumps(args),
                    }
                )
        usage = {
            "input_tokens": 900,
            "input_tokens_details": {"cached_tokens": 600},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 10},
            "total_tokens": 930,
        }
        resp_obj = {
            "id": f"resp_fake{n}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body.get("model"),
            "output": items,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(resp_obj)
        delay = 0.3 if "SLOW" in text else 0.0
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        seq = 0

        async def ev(kind: str, data: dict[str, Any]) -> None:
            nonlocal seq
            await asyncio.sleep(delay)
            await _sse(resp, kind, {"type": kind, "sequence_number": seq, **data})
            seq += 1

        try:
            started = {**resp_obj, "status": "in_progress", "output": [], "usage": None}
            await ev("response.created", {"response": started})
            await ev("response.in_progress", {"response": started})
            for idx, item in enumerate(items):
                if f is not None and f.mode == "midstream":
                    raise ConnectionResetError("injected mid-stream drop")
                if item["type"] == "message":
                    text_out = item["content"][0]["text"]
                    await ev(
                        "response.output_item.added",
                        {"output_index": idx, "item": {**item, "status": "in_progress", "content": []}},
                    )
                    await ev(
                        "response.content_part.added",
                        {
                            "item_id": item["id"],
                            "output_index": idx,
                            "content_index": 0,
                            "part": {"type": "output_text", "text": "", "annotations": []},
                        },
                    )
                    for piece in _pieces(text_out, 3):
                        await ev(
                            "response.output_text.delta",
                            {
                                "item_id": item["id"],
                                "output_index": idx,
                                "content_index": 0,
                                "delta": piece,
                                "logprobs": [],
                            },
                        )
                    await ev(
                        "response.output_text.done",
                        {
                            "item_id": item["id"],
                            "output_index": idx,
                            "content_index": 0,
                            "text": text_out,
                            "logprobs": [],
                        },
                    )
                    await ev(
                        "response.content_part.done",
                        {
                            "item_id": item["id"],
                            "output_index": idx,
                            "content_index": 0,
                            "part": item["content"][0],
                        },
                    )
                elif item["type"] == "function_call":
                    await ev(
                        "response.output_item.added",
                        {"output_index": idx, "item": {**item, "status": "in_progress", "arguments": ""}},
                    )
                    for piece in _pieces(item["arguments"], 3):
                        await ev(
                            "response.function_call_arguments.delta",
                            {"item_id": item["id"], "output_index": idx, "delta": piece},
                        )
                    await ev(
                        "response.function_call_arguments.done",
                        {"item_id": item["id"], "output_index": idx, "arguments": item["arguments"]},
                    )
                else:
                    await ev(
                        "response.output_item.added",
                        {"output_index": idx, "item": {**item, "status": "in_progress", "input": ""}},
                    )
                    for piece in _pieces(item["input"], 3):
                        await ev(
                            "response.custom_tool_call_input.delta",
                            {"item_id": item["id"], "output_index": idx, "delta": piece},
                        )
                    await ev(
                        "response.custom_tool_call_input.done",
                        {"item_id": item["id"], "output_index": idx, "input": item["input"]},
                    )
                await ev("response.output_item.done", {"output_index": idx, "item": item})
            await ev("response.completed", {"response": resp_obj})
        except (ConnectionResetError, asyncio.CancelledError):
            self.closed_streams += 1
            raise
        return resp


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") in ("text", "input_text", "output_text")
        )
    return ""


def _pieces(text: str, n: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


async def _sse(resp: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
