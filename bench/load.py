"""A cheap HTTP/1.1 load generator: fixed concurrency, fixed request count, a time cap.

Owns sending one prebuilt request over and over on ``concurrency`` keep-alive connections
(raw ``asyncio.Protocol``, no HTTP library: the parser works on whole socket reads, so the
client stays cheap next to the process being measured on a 2-core machine) and measuring, per
request: latency (first byte sent → last body byte), time to first body byte, the status, and
for SSE bodies the number of events and of content deltas received (events holding the fake
upstream's ``BQX`` sentinel exactly once, see ``stackbilt_gateway.daemon.simulator.fast``). Does not own the
scenarios, process management or CPU accounting (``bench.run``).

Every loop is bounded: a worker stops after the shared request count is issued or the time cap
has passed, and each request has its own timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from stackbilt_gateway.daemon.simulator.fast import SENTINEL

REQUEST_TIMEOUT = 30.0
MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The server's response could not be parsed."""


@dataclass
class Reply:
    """One response as the client saw it."""

    status: int = 0
    body_bytes: int = 0
    events: int = 0
    deltas: int = 0
    ttfb: float | None = None  # perf_counter of the first body byte
    done: float = 0.0
    keep_alive: bool = True
    head_sample: bytes = b""
    body_sample: bytes = b""  # the start of an error body


class ClientConnection(asyncio.Protocol):
    """One keep-alive connection that runs one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.reply: Reply | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.lost = False
        self._state = "idle"
        self._remaining = 0
        self._chunked = False
        self._sse = False
        self._pending = bytearray()  # an SSE event not yet terminated by a blank line

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            if self._state == "body" and not self._chunked and self._remaining < 0:
                self._finish()  # read-until-close body
            else:
                self.waiter.set_exception(ConnectionError(f"connection lost in state {self._state}"))

    def data_received(self, data: bytes) -> None:
        if self.reply is None:
            return
        self.buf += data
        try:
            self._parse()
        except (ProtocolError, ValueError) as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ProtocolError(str(exc)))
            if self.transport is not None:
                self.transport.close()

    # -- request ---------------------------------------------------------------------------
    def send(self, request: bytes) -> asyncio.Future[Reply]:
        assert self.transport is not None
        self.reply = Reply()
        self.buf.clear()
        self._pending.clear()
        self._state = "head"
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- parsing ---------------------------------------------------------------------------
    def _parse(self) -> None:
        reply = self.reply
        assert reply is not None
        if self._state == "head":
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    raise ProtocolError("response head too large")
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            reply.status = int(parts[1])
            reply.head_sample = bytes(self.buf[: min(end, 300)])
            self._chunked, self._sse, self._remaining = False, False, -1
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                value = value.strip().lower()
                if name == b"content-length":
                    self._remaining = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value:
                    self._chunked = True
                elif name == b"content-type" and value.startswith(b"text/event-stream"):
                    self._sse = True
                elif name == b"connection" and value == b"close":
                    reply.keep_alive = False
            del self.buf[: end + 4]
            self._state = "body"
            if not self._chunked and self._remaining == 0:
                self._finish()
                return
        if self._state != "body":
            return
        if self._chunked:
            self._parse_chunked()
        elif self._remaining >= 0:
            take = min(len(self.buf), self._remaining)
            if take:
                self._body(bytes(self.buf[:take]))
                del self.buf[:take]
                self._remaining -= take
            if self._remaining == 0:
                self._finish()
        else:  # no length: the body runs until the server closes
            if self.buf:
                self._body(bytes(self.buf))
                self.buf.clear()

    def _parse_chunked(self) -> None:
        buf = self.buf
        pos = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            if size == 0:
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    break
                del buf[: end + 4]
                self._finish()
                return
            if len(buf) < eol + 2 + size + 2:
                break
            self._body(bytes(buf[eol + 2 : eol + 2 + size]))
            pos = eol + 2 + size + 2
        del buf[:pos]

    def _body(self, data: bytes) -> None:
        reply = self.reply
        assert reply is not None
        if reply.ttfb is None:
            reply.ttfb = time.perf_counter()
        reply.body_bytes += len(data)
        if reply.status >= 400 and len(reply.body_sample) < 300:
            reply.body_sample += data[:300]
        if not self._sse:
            return
        pending = self._pending
        pending += data
        start = 0
        while True:
            sep = pending.find(b"\n\n", start)
            if sep < 0:
                break
            reply.events += 1
            if pending.count(SENTINEL, start, sep) == 1:
                reply.deltas += 1
            start = sep + 2
        if start:
            del pending[:start]

    def _finish(self) -> None:
        reply = self.reply
        assert reply is not None
        reply.done = time.perf_counter()
        self._state = "idle"
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(reply)


@dataclass
class LoadResult:
    """What one load run measured (times in milliseconds)."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    events: int = 0
    deltas: int = 0
    short_streams: int = 0  # streams with fewer or more deltas than expected
    wall_s: float = 0.0
    capped: bool = False  # stopped by the time cap before the request count
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def build_request(
    host: str, port: int, path: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> bytes:
    """A complete HTTP/1.1 POST with a ``Content-Length`` body, ready to write."""
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Pool:
    """``size`` open connections to one server, reused across load runs (warm-up, then measure)."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.conns: list[ClientConnection] = []

    async def _connect(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        _, proto = await asyncio.wait_for(
            loop.create_connection(ClientConnection, self.host, self.port), REQUEST_TIMEOUT
        )
        return proto

    async def __aenter__(self) -> Pool:
        self.conns = list(await asyncio.gather(*(self._connect() for _ in range(self.size))))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.conns:
            conn.close()

    async def one(self, request: bytes, slot: int = 0) -> Reply:
        """Send one request on connection ``slot`` (reconnecting if it was closed)."""
        conn = self.conns[slot]
        if conn.lost or conn.transport is None or conn.transport.is_closing():
            conn = self.conns[slot] = await self._connect()
        try:
            reply = await asyncio.wait_for(conn.send(request), REQUEST_TIMEOUT)
        except BaseException:
            conn.close()
            raise
        if not reply.keep_alive:
            conn.close()
        return reply

    async def run(
        self,
        request: bytes,
        *,
        requests: int,
        time_cap: float,
        expect_deltas: int | None = None,
    ) -> LoadResult:
        """Send ``request`` ``requests`` times on all connections at once; stop at ``time_cap`` s."""
        result = LoadResult()
        issued = 0
        started = time.perf_counter()
        deadline = started + time_cap

        async def worker(slot: int) -> None:
            nonlocal issued
            while issued < requests:
                if time.perf_counter() >= deadline:
                    result.capped = True
                    return
                issued += 1
                t0 = time.perf_counter()
                try:
                    reply = await self.one(request, slot)
                except (OSError, ProtocolError, TimeoutError, ConnectionError) as exc:
                    result.errors += 1
                    if len(result.error_samples) < 3:
                        result.error_samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                result.requests += 1
                result.statuses[reply.status] += 1
                if reply.status >= 400:
                    result.errors += 1
                    if len(result.error_samples) < 3:
                        result.error_samples.append(reply.head_sample.decode("latin-1")[:200])
                result.latencies_ms.append((reply.done - t0) * 1000)
                if reply.ttfb is not None:
                    result.ttfb_ms.append((reply.ttfb - t0) * 1000)
                result.events += reply.events
                result.deltas += reply.deltas
                if expect_deltas is not None and reply.deltas != expect_deltas:
                    result.short_streams += 1

        await asyncio.gather(*(worker(i) for i in range(min(self.size, requests))))
        result.wall_s = time.perf_counter() - started
        return result


async def get_json(
    host: str, port: int, path: str, limit_s: float = 5.0, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[int, object]:
    """A one-off ``GET`` on a fresh connection: (status, parsed JSON body or None)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    async with asyncio.timeout(limit_s):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            request = f"GET {path} HTTP/1.1\r\nhost: {host}:{port}\r\n{extra}connection: close\r\n\r\n"
            writer.write(request.encode())
            await writer.drain()
            raw = await reader.read(-1)
        finally:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk_all(body)
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


async def post_once(host: str, port: int, path: str, limit_s: float = 5.0) -> int:
    """A one-off empty ``POST`` (control endpoints such as ``/__reset``); returns the status."""
    async with asyncio.timeout(limit_s):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-length: 0\r\n"
                "connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            raw = await reader.read(-1)
        finally:
            writer.close()
    return int(raw.split(b" ", 2)[1])


def _dechunk_all(body: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return b"".join(out)
        size = int(body[pos:eol].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2
