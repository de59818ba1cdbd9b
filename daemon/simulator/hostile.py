"""A hostile fake upstream: raw HTTP/1.1 on loopback that breaks the rules on purpose.

For the gateway's reliability tests. A raw asyncio server (not ASGI: the bytes on the wire are
exactly these) in a thread on ``127.0.0.1``; every response ends with ``connection: close`` and
no length (the body runs until the server closes). The request's path picks the wire
(``…/messages`` Anthropic, ``…/chat/completions`` Chat, ``…/responses`` Responses) and a marker
in its body picks the
misbehaviour (``HOSTILE_ENDLESS`` …, see ``SCENARIOS``); a request without one gets a short,
correct stream. Every loop is bounded in count and time (``MAX_SECONDS``), and stops as soon as
the peer goes away; ``served`` / ``dropped`` count responses begun and those the peer cut.
Does not own the well-behaved fake upstream (``upstream.FakeUpstream``).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .threaded import HOST

MAX_SECONDS = 20.0  # no scenario sends for longer
PIECE = 64 * 1024
HUGE_BYTES = 24 * 1024 * 1024  # past the gateway's 16 MiB bound on one event or tool call

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
    b"</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
    + b"<!-- pad -->\r\n"
    * 40
)
TEXT_503 = b"upstream connect error or disconnect/reset before headers. reset reason: overflow"
# Starts like gzip (magic, deflate) and is nothing after that.
GZIP_GARBAGE = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 8
JSON_429 = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down, hostile"}}'
# Token counts no upstream can bill: beyond any context window, and negative.
ABSURD_USAGE = {"input_tokens": 10**20, "output_tokens": -7}

SCENARIOS = (
    "endless",  # a stream that never ends: a small text delta every 10 ms
    "huge_line",  # a normal start, then one data line of HUGE_BYTES
    "huge_tool_args",  # a tool call whose arguments run to HUGE_BYTES
    "after_stop",  # a whole stream, then junk events that never end
    "html_502",
    "text_503",
    "gzip_500",
    "json_429",
    "html_200",  # a broken proxy's HTML page with status 200
    "usage_overflow",  # a correct stream whose usage says ABSURD_USAGE
)
_MARKER = re.compile(rb"HOSTILE_([A-Z_0-9]+)")


def _frame(event: str | None, data: object) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


class _Anthropic:
    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": "msg_hostile",
            "type": "message",
            "role": "assistant",
            "model": "claude-hostile",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 5, "output_tokens": 0},
        }
        return _frame("message_start", {"type": "message_start", "message": message}) + _frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )

    def text(self, text: str) -> bytes:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return _frame("content_block_delta", delta)

    def tool_start(self) -> bytes:
        block = {"type": "tool_use", "id": "toolu_hostile", "name": "write", "input": {}}
        return _frame("content_block_stop", {"type": "content_block_stop", "index": 0}) + _frame(
            "content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}
        )

    def tool_args(self, fragment: str) -> bytes:
        delta = {"type": "input_json_delta", "partial_json": fragment}
        return _frame("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})

    def end(self, absurd: bool = False) -> bytes:
        usage = dict(ABSURD_USAGE) if absurd else {"output_tokens": 3}
        return (
            _frame("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _frame(
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage},
            )
            + _frame("message_stop", {"type": "message_stop"})
        )


class _Chat:
    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "model": "hostile"}
        return _frame(None, {**body, "choices": [choice], **extra})

    def start(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def tool_start(self) -> bytes:
        call = {"index": 0, "id": "call_hostile", "type": "function", "function": {"name": "write"}}
        return self._chunk({"tool_calls": [call]})

    def tool_args(self, fragment: str) -> bytes:
        return self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})

    def end(self, absurd: bool = False) -> bytes:
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        if absurd:
            usage = {
                "prompt_tokens": ABSURD_USAGE["input_tokens"],
                "completion_tokens": ABSURD_USAGE["output_tokens"],
            }
        return self._chunk({}, "stop", usage=usage) + _frame(None, "[DONE]")


class _Responses:
    _ITEM = "msg_hostile"

    def _response(self, status: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": "resp_hostile",
            "object": "response",
            "status": status,
            "model": "hostile",
            "output": [],
        }
        if usage is not None:
            body["usage"] = usage
        return body

    def start(self) -> bytes:
        item = {
            "type": "message",
            "id": self._ITEM,
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        return _frame(
            "response.created", {"type": "response.created", "response": self._response("in_progress")}
        ) + _frame(
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": 0, "item": item},
        )

    def text(self, text: str) -> bytes:
        delta = {
            "type": "response.output_text.delta",
            "item_id": self._ITEM,
            "output_index": 0,
            "content_index": 0,
            "delta": text,
        }
        return _frame("response.output_text.delta", delta)

    def tool_start(self) -> bytes:
        item = {
            "type": "function_call",
            "id": "fc_hostile",
            "call_id": "call_hostile",
            "name": "write",
            "arguments": "",
        }
        added = {"type": "response.output_item.added", "output_index": 1, "item": item}
        return _frame("response.output_item.added", added)

    def tool_args(self, fragment: str) -> bytes:
        delta = {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_hostile",
            "output_index": 1,
            "delta": fragment,
        }
        return _frame("response.function_call_arguments.delta", delta)

    def end(self, absurd: bool = False) -> bytes:
        usage = dict(ABSURD_USAGE) if absurd else {"input_tokens": 5, "output_tokens": 3}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        done = {"type": "response.completed", "response": self._response("completed", usage)}
        return _frame("response.completed", done)


_Wire = _Anthropic | _Chat | _Responses


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", "connection: close", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _bounded() -> Callable[[], bool]:
    deadline = time.monotonic() + MAX_SECONDS
    return lambda: time.monotonic() < deadline


async def _endless(wire: _Wire, prefix: bytes, interval: float) -> AsyncIterator[bytes]:
    yield prefix
    alive = _bounded()
    for i in range(int(MAX_SECONDS / interval) + 1):
        if not alive():
            return
        yield wire.text(f"tick {i} " + "x" * 1000)
        await asyncio.sleep(interval)


async def _huge_line(wire: _Wire) -> AsyncIterator[bytes]:
    yield wire.start() + wire.text("before the huge line")
    yield b"data: "
    for _ in range(HUGE_BYTES // PIECE):
        yield b"x" * PIECE
    yield b"\n\n" + wire.end()


async def _huge_tool_args(wire: _Wire) -> AsyncIterator[bytes]:
    yield wire.start() + wire.text("calling a tool") + wire.tool_start()
    yield wire.tool_args('{"content": "')
    for _ in range(HUGE_BYTES // PIECE):
        yield wire.tool_args("y" * PIECE)
    yield wire.tool_args('"}') + wire.end()


def _stream(body: AsyncIterator[bytes]) -> _Response:
    return _Response(200, [("content-type", "text/event-stream")], body)


def _respond(scenario: str, wire: _Wire) -> _Response:
    if scenario == "endless":
        return _stream(_endless(wire, wire.start(), 0.01))
    if scenario == "after_stop":
        return _stream(_endless(wire, wire.start() + wire.text("done") + wire.end(), 0.01))
    if scenario == "huge_line":
        return _stream(_huge_line(wire))
    if scenario == "huge_tool_args":
        return _stream(_huge_tool_args(wire))
    if scenario == "html_502":
        return _Response(502, [("content-type", "text/html")], _once(HTML_502))
    if scenario == "text_503":
        return _Response(503, [("content-type", "text/plain"), ("retry-after", "7")], _once(TEXT_503))
    if scenario == "gzip_500":
        headers = [("content-type", "application/json"), ("content-encoding", "gzip")]
        return _Response(500, headers, _once(GZIP_GARBAGE))
    if scenario == "html_200":
        return _Response(200, [("content-type", "text/html; charset=utf-8")], _once(HTML_502))
    if scenario == "usage_overflow":
        return _stream(_once(wire.start() + wire.text("an answer with absurd usage") + wire.end(absurd=True)))
    if scenario == "json_429":
        headers = [("content-type", "application/json"), ("retry-after", "3"), ("x-hostile", "kept")]
        return _Response(429, headers, _once(JSON_429))
    return _stream(_once(wire.start() + wire.text("a calm answer") + wire.end()))


def _wire(path: str) -> _Wire:
    if path.endswith("/chat/completions"):
        return _Chat()
    if path.endswith("/responses"):
        return _Responses()
    return _Anthropic()


@dataclass
class HostileUpstream:
    """``start()`` → serving on ``url``; ``stop()`` closes it. Counters are read from any thread."""

    port: int = 0
    served: int = 0
    dropped: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, scenario)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> HostileUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, HOST, self.port))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="hostile-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the hostile upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
            marker = _MARKER.search(body)
            scenario = marker.group(1).decode().lower() if marker else "calm"
            self.requests.append((path, scenario))
            wire = _wire(path)
            resp = _respond(scenario, wire)
            self.served += 1
            writer.write(_head(resp.status, resp.headers))
            async for data in resp.body:
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            self.dropped += 1
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
