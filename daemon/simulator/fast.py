"""The simulated upstream for benchmarks: the same wire frames, served over raw asyncio HTTP/1.1.

Owns a transport cheap enough that the upstream's own CPU does not distort a measurement on a
small machine: no framework, keep-alive, request bodies by ``Content-Length`` or chunked,
pipelining-safe (one request at a time per connection, in order), every answer prebuilt at start
by the wire modules (``anthropic``, ``chat``, ``responses``) from one fixed script:

- non-streaming answers are tiny ``Content-Length`` JSON bodies (text ``ok``);
- streaming answers (``"stream": true`` anywhere in the body) are ``Transfer-Encoding: chunked``,
  one SSE event per HTTP chunk and per ``send()``, ``--chunks`` content deltas with
  ``--delay-ms`` between events (0 = just yield to the event loop between writes);
- every content delta carries the sentinel ``BQX`` exactly once and no other event carries it
  exactly once, so a client can count delivered deltas in any of the three formats;
- ``GET /__stats`` reports requests, SSE events and content deltas sent since start (or since
  ``POST /__reset``); ``GET /health`` answers 200.

Does not own scripted behaviour, faults or recorded requests (``upstream.FakeUpstream``) nor load
generation (``bench.load``). Run: ``python -m stackbilt_gateway.daemon.simulator.fast --port 0
--chunks 50`` (prints ``READY <port>``; binds loopback only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from dataclasses import asdict, dataclass

from . import anthropic, chat, responses
from .reply import Reply, compact

SENTINEL = b"BQX"
MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
MODEL = "bench-model"
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _stream_reply(wire: str, n: int) -> Reply:
    """The streamed answer: ``n`` deltas ``BQX<i> ``."""
    text = [f"BQX{i} " for i in range(n)]
    if wire == "anthropic":
        usage = {"input_tokens": 120, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 400}
        return Reply("msg_bench", MODEL, text, usage={**usage, "output_tokens": n}, created=1)
    if wire == "chat":
        usage = {"prompt_tokens": 500, "completion_tokens": n, "total_tokens": 500 + n}
        return Reply("chatcmpl-bench", MODEL, text, usage=usage, created=1)
    usage = {"input_tokens": 500, "output_tokens": n, "total_tokens": 500 + n}
    return Reply("resp_bench", MODEL, text, usage=usage, created=1)


def _json_reply(wire: str) -> Reply:
    if wire == "anthropic":
        return Reply("msg_bench", MODEL, ["ok"], usage={"input_tokens": 12, "output_tokens": 1}, created=1)
    usage = {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}
    if wire == "chat":
        return Reply("chatcmpl-bench", MODEL, ["ok"], usage=usage, created=1)
    return Reply(
        "resp_bench", MODEL, ["ok"], usage={"input_tokens": 12, "output_tokens": 1, "total_tokens": 13}
    )


def _json_response(obj: object, status: str = "200 OK") -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _chunked(events: list[bytes]) -> list[bytes]:
    frames = [compact(e) for e in events]
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in frames] + [b"0\r\n\r\n"]


JSON_BODIES = {
    "anthropic": _json_response(anthropic.message(_json_reply("anthropic"))),
    "chat": _json_response(chat.message(_json_reply("chat"))),
    "responses": _json_response(responses.response(_json_reply("responses"))),
}
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


class Streams:
    """The prebuilt, chunk-encoded SSE bodies for one ``--chunks`` setting."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.anthropic = _chunked(anthropic.stream(_stream_reply("anthropic", n)).frames)
        self.chat = _chunked(chat.stream(_stream_reply("chat", n), include_usage=False).frames)
        self.chat_usage = _chunked(chat.stream(_stream_reply("chat", n), include_usage=True).frames)
        self.responses = _chunked(responses.stream(_stream_reply("responses", n)).frames)

    def pick(self, kind: str, body: bytes) -> list[bytes]:
        if kind == "anthropic":
            return self.anthropic
        if kind == "chat":
            return self.chat_usage if _USAGE_RE.search(body) else self.chat
        return self.responses


def _kind(path: bytes) -> str | None:
    for suffix, kind in (
        (b"/messages", "anthropic"),
        (b"/chat/completions", "chat"),
        (b"/responses", "responses"),
    ):
        if path.endswith(suffix):
            return kind
    return None


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
            else:
                self.transport.write(HEALTH if path == b"/health" else NOT_FOUND)
        elif path == b"/__reset":
            self.stats.reset()
            self.transport.write(HEALTH)
        else:
            self.stats.requests += 1
            kind = _kind(path)
            if kind is None:
                self.transport.write(NOT_FOUND)
            elif _STREAM_RE.search(body) is None:
                self.transport.write(JSON_BODIES[kind])
            else:
                chunks = self.streams.pick(kind, body)
                self.stats.streams += 1
                self.stats.events_sent += len(chunks) - 1
                self.stats.deltas_sent += self.streams.n
                self.busy = True
                asyncio.get_running_loop().create_task(self._write_stream(chunks, close))
                return
        if close:
            self.transport.close()

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


def main(
    argv: list[str] | None = None, prog: str = "python -m stackbilt_gateway.daemon.simulator.fast"
) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="A fast simulated LLM upstream for benchmarks.")
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
