"""A fast fake LLM upstream for benchmarks: raw asyncio HTTP/1.1, no framework.

Owns serving the three wire formats the gateway talks to upstream — Anthropic Messages
(``POST …/messages``), Chat Completions (``POST …/chat/completions``) and Responses
(``POST …/responses``) — as cheaply as possible, so that the upstream's own CPU does not
distort a measurement on a small machine. Does not own any scripted "model" behaviour (that is
``tests/fakes/upstream.py``, which is slower and richer) nor load generation (``bench.load``).

- HTTP/1.1 keep-alive; request bodies by ``Content-Length`` or chunked; pipelining-safe (one
  request at a time per connection, in order).
- Non-streaming answers are tiny ``Content-Length`` JSON bodies, prebuilt at start.
- Streaming answers (``"stream": true`` anywhere in the body) are ``Transfer-Encoding:
  chunked``, one SSE event per HTTP chunk and per ``send()``; ``--chunks`` content deltas with
  ``--delay-ms`` between events (0 = just yield to the event loop between writes).
- Every content delta carries the sentinel ``BQX`` exactly once and no other event carries it
  exactly once, so a client can count delivered deltas in any of the three formats.
- ``GET /__stats`` reports requests, SSE events and content deltas sent since start (or since
  ``POST /__reset``); ``GET /health`` answers 200.

Run: ``python -m bench.fake_upstream --port 0 --chunks 50`` (prints ``READY <port>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

SENTINEL = b"BQX"
MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _pieces(n: int) -> list[str]:
    return [f"BQX{i} " for i in range(n)]


def anthropic_events(n: int) -> list[bytes]:
    """An Anthropic Messages stream (protocols.md §1.6) with ``n`` text deltas."""
    usage = {"input_tokens": 120, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 400}
    message: dict[str, Any] = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench-model",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for piece in _pieces(n):
        delta = {"type": "text_delta", "text": piece}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return [f"event: {name}\ndata: {_dumps(data)}\n\n".encode() for name, data in events]


def chat_events(n: int, include_usage: bool) -> list[bytes]:
    """A Chat Completions stream (protocols.md §3.4) with ``n`` content deltas."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench-model"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in _pieces(n)]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        usage = {"prompt_tokens": 500, "completion_tokens": n, "total_tokens": 500 + n}
        chunks.append({**base, "choices": [], "usage": usage})
    return [f"data: {_dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]


def responses_events(n: int) -> list[bytes]:
    """A Responses stream (protocols.md §2.6) with ``n`` ``output_text.delta`` events."""
    text = "".join(_pieces(n))
    resp = {"id": "resp_bench", "object": "response", "model": "bench-model", "status": "in_progress"}
    item = {"id": "msg_bench", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    ids = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}
    done_part = {**part, "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    usage = {"input_tokens": 500, "output_tokens": n, "total_tokens": 500 + n}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**resp, "output": []}},
        {"type": "response.in_progress", "response": {**resp, "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **ids, "part": part},
    ]
    events += [{"type": "response.output_text.delta", **ids, "delta": p, "logprobs": []} for p in _pieces(n)]
    events += [
        {"type": "response.output_text.done", **ids, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **ids, "part": done_part},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        {
            "type": "response.completed",
            "response": {**resp, "status": "completed", "output": [done_item], "usage": usage},
        },
    ]
    out = []
    for seq, ev in enumerate(events):
        out.append(f"event: {ev['type']}\ndata: {_dumps({**ev, 'sequence_number': seq})}\n\n".encode())
    return out


def _json_response(obj: Any, status: str = "200 OK") -> bytes:
    body = _dumps(obj).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


ANTHROPIC_JSON = _json_response(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench-model",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
)
CHAT_JSON = _json_response(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
    }
)
RESPONSES_JSON = _json_response(
    {
        "id": "resp_bench",
        "object": "response",
        "model": "bench-model",
        "status": "completed",
        "output": [
            {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "ok", "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 12, "output_tokens": 1, "total_tokens": 13},
    }
)
NOT_FOUND = _json_response({"error": {"message": "no such path", "type": "not_found"}}, "404 Not Found")
HEALTH = _json_response({"status": "ok"})


@dataclass
class Stats:
    requests: int = 0
    streams: int = 0
    events_sent: int = 0
    deltas_sent: int = 0

    def reset(self) -> None:
        self.requests = self.streams = self.events_sent = self.deltas_sent = 0


def _chunked(events: list[bytes]) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


class Streams:
    """The prebuilt, chunk-encoded SSE bodies for one ``--chunks`` setting."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.anthropic = _chunked(anthropic_events(n))
        self.chat = _chunked(chat_events(n, include_usage=False))
        self.chat_usage = _chunked(chat_events(n, include_usage=True))
        self.responses = _chunked(responses_events(n))


class Connection(asyncio.Protocol):
    """One client connection: parse requests in order, answer each, keep the connection open."""

    def __init__(self, streams: Streams, stats: Stats, delay: float) -> None:
        self.streams = streams
        self.stats = stats
        self.delay = delay
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a stream is being written; later requests wait in ``buf``
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _fail(self) -> None:
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        self.transport.close()
        self.buf.clear()

    def _process(self) -> None:
        while self.buf and not self.busy and not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail()
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            try:
                method, target, _ = lines[0].split(b" ", 2)
            except ValueError:
                self._fail()
                return
            length, chunked, close = 0, False, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            start = end + 4
            if chunked:
                parsed = _dechunk(self.buf, start)
                if parsed is None:
                    return
                body, consumed = parsed
            else:
                if length > MAX_BODY:
                    self._fail()
                    return
                if len(self.buf) < start + length:
                    return
                body, consumed = bytes(self.buf[start : start + length]), start + length
            del self.buf[:consumed]
            self._answer(method, target.split(b"?", 1)[0], body, close)

    def _answer(self, method: bytes, path: bytes, body: bytes, close: bool) -> None:
        assert self.transport is not None
        if method == b"GET":
            if path == b"/__stats":
                self.transport.write(_json_response(asdict(self.stats)))
            elif path == b"/health":
                self.transport.write(HEALTH)
            else:
                self.transport.write(NOT_FOUND)
        elif path == b"/__reset":
            self.stats.reset()
            self.transport.write(HEALTH)
        else:
            self.stats.requests += 1
            stream = _STREAM_RE.search(body) is not None
            kind = self._kind(path)
            if kind is None:
                self.transport.write(NOT_FOUND)
            elif not stream:
                self.transport.write(
                    {"anthropic": ANTHROPIC_JSON, "chat": CHAT_JSON}.get(kind, RESPONSES_JSON)
                )
            else:
                chunks = self._stream_for(kind, body)
                self.stats.streams += 1
                self.stats.events_sent += len(chunks) - 1
                self.stats.deltas_sent += self.streams.n
                self.busy = True
                asyncio.get_running_loop().create_task(self._write_stream(chunks, close))
                return
        if close:
            self.transport.close()

    @staticmethod
    def _kind(path: bytes) -> str | None:
        if path.endswith(b"/messages"):
            return "anthropic"
        if path.endswith(b"/chat/completions"):
            return "chat"
        if path.endswith(b"/responses"):
            return "responses"
        return None

    def _stream_for(self, kind: str, body: bytes) -> list[bytes]:
        if kind == "anthropic":
            return self.streams.anthropic
        if kind == "chat":
            return self.streams.chat_usage if _USAGE_RE.search(body) else self.streams.chat
        return self.streams.responses

    async def _write_stream(self, chunks: list[bytes], close: bool) -> None:
        assert self.transport is not None
        transport = self.transport
        try:
            transport.write(_SSE_HEAD)
            for chunk in chunks:
                if self.closed:
                    return
                await asyncio.sleep(self.delay)
                transport.write(chunk)
        finally:
            self.busy = False
        if close:
            transport.close()
        elif self.buf:
            self._process()


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``pos``: (body, end offset), or None if incomplete."""
    parts: list[bytes] = []
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # optional trailers end with a blank line
            return (b"".join(parts), end + 4) if end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        parts.append(bytes(buf[pos : pos + size]))
        total += size
        if total > MAX_BODY:
            raise ValueError("chunked body too large")
        pos += size + 2


async def serve(host: str, port: int, chunks: int, delay_ms: float) -> None:
    """Serve until SIGTERM/SIGINT; prints ``READY <port>`` once listening."""
    streams, stats = Streams(chunks), Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(streams, stats, delay_ms / 1000), host, port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_upstream", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=50, help="content deltas per stream (>= 2)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause between stream events")
    args = parser.parse_args(argv)
    if args.chunks < 2:
        parser.error("--chunks must be at least 2 (delta counting relies on it)")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the fake upstream binds loopback only")
    asyncio.run(serve(args.host, args.port, args.chunks, args.delay_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
