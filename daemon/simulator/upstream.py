"""The simulated LLM provider: one ASGI app speaking Anthropic Messages, Chat Completions and
OpenAI Responses, streaming (SSE) or not, served on loopback by ``threaded.ThreadedServer``.

Routes by path suffix, so ``/v1/messages`` and ``/<provider>/v1/messages`` both work (a provider
prefix lets faults target one provider): ``…/messages``, ``…/messages/count_tokens``,
``…/chat/completions``, ``…/responses``. What the model says comes from a ``Script``
(``markers.MarkerScript`` by default; the demo uses ``agent.AgentScript``; cost tests use the
cache-faithful ``cached_script.CachedScript``), which sees the request's headers and may refuse
it (``reply.Rejected``); the wire modules render it. Owns the control surface tests and the
demo drive: recorded requests (``requests``, ``calls``), injected faults (``fail_next``: an
HTTP error before answering, or a stream dropped mid-way; ``fail``: a provider outage), counted
dropped streams (``closed_streams``, including clients that hang up), and the lifecycle. Does
not own serving threads (``threaded``) nor the benchmark's raw transport (``fast``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import anthropic, chat, responses
from .markers import MarkerScript
from .reply import Call, Rejected, Reply, Script, Stream, Wire
from .threaded import HOST, ThreadedServer

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_WIRES: tuple[tuple[str, Wire | None], ...] = (
    ("/messages/count_tokens", None),
    ("/messages", "anthropic"),
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
)


@dataclass
class Recorded:
    path: str
    query: str
    headers: httpx.Headers  # case-insensitive, like the provider sees them
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
    # Only requests under /<provider>/ take the failure (None: any provider).
    provider: str | None = None
    message: str = ""

    def matches(self, path: str, provider: str | None) -> bool:
        return (self.path is None or path.endswith(self.path)) and self.provider in (None, provider)


@dataclass
class FakeUpstream:
    host: str = HOST
    port: int = 0
    script: Script = field(default_factory=MarkerScript)
    # False: count requests but keep none (the demo runs for hours).
    record: bool = True
    requests: list[Recorded] = field(default_factory=list)
    closed_streams: int = 0
    served: int = 0
    _failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadedServer | None = None

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
        provider: str | None = None,
        message: str = "",
    ) -> None:
        failure = Failure(
            status, body, headers or {}, mode, path, provider, message or f"fake upstream error {status}"
        )
        with self._lock:
            self._failures.extend(Failure(**vars(failure)) for _ in range(times))

    def fail(self, provider: str, times: int) -> None:
        """The next ``times`` model calls to ``provider`` answer 503 (a simulated outage)."""
        self.fail_next(503, times=times, provider=provider, message="simulated outage (demo)")

    def heal(self, provider: str) -> int:
        """Drop the failures still queued for ``provider``; how many were dropped."""
        with self._lock:
            kept = [f for f in self._failures if f.provider != provider]
            dropped = len(self._failures) - len(kept)
            self._failures[:] = kept
        return dropped

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.served = 0
        if isinstance(self.script, MarkerScript):
            self.script.compact_malformed = 0

    def calls(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def compact_malformed(self) -> int:
        """The markers script's count of malformed COMPACT answers still to give."""
        return self.script.compact_malformed if isinstance(self.script, MarkerScript) else 0

    @compact_malformed.setter
    def compact_malformed(self, value: int) -> None:
        if not isinstance(self.script, MarkerScript):
            raise TypeError("compact_malformed belongs to the markers script")
        self.script.compact_malformed = value

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider: str) -> str:
        """The base URL for one provider under its own prefix (Chat providers end in ``/v1``)."""
        return f"{self.url}/{provider}" + ("" if provider == "anthropic" else "/v1")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        if self.host != HOST:
            raise ValueError("the fake upstream binds 127.0.0.1 only")
        self._server = ThreadedServer(
            self, port=self.port, name="fake-upstream", graceful_timeout=1.0
        ).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        path: str = scope["path"]
        route = next(((k,) for suffix, k in _WIRES if path.endswith(suffix)), None)
        if scope["method"] != "POST" or route is None:
            await _json(send, 404, {"error": {"message": "no such path", "type": "not_found"}})
            return
        kind = route[0]  # None: count_tokens
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        provider = _provider(path)
        with self._lock:
            self.served += 1
            number = self.served
            if self.record:
                query = scope.get("query_string", b"").decode("latin-1")
                self.requests.append(Recorded(path, query, httpx.Headers(scope["headers"]), body, raw))
        wire: Wire = kind or "anthropic"
        script = self.script
        if kind is not None and (pause := script.latency(wire)) > 0:
            await asyncio.sleep(pause)
        failure = self._take_failure(path, provider)
        if failure is not None and (failure.mode == "before" or kind is None):
            await self._error(send, wire, failure)
            return
        if kind is None:
            await _json(send, 200, {"input_tokens": len(raw) // 4 + 1})
            return
        body = body if isinstance(body, dict) else {}
        call = Call(wire, body, raw, provider, number, httpx.Headers(scope["headers"]))
        try:
            reply = script.reply(call)
        except Rejected as exc:  # the script refuses the request (e.g. a broken caching rule)
            await self._error(send, wire, Failure(exc.status, None, {}, message=exc.message))
            return
        if not body.get("stream"):
            await _json(send, 200, _render(wire, reply), reply.headers)
            return
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        frames = chat.stream(reply, wants_usage) if wire == "chat" else _STREAMS[wire](reply)
        await self._stream(send, receive, frames, reply, script.delay(call), failure)

    def _take_failure(self, path: str, provider: str | None) -> Failure | None:
        with self._lock:
            for i, f in enumerate(self._failures):
                if f.matches(path, provider):
                    return self._failures.pop(i)
        return None

    @staticmethod
    async def _error(send: Send, wire: Wire, f: Failure) -> None:
        body = f.body
        if body is None:
            body = (anthropic.error_body if wire == "anthropic" else chat.error_body)(f.status, f.message)
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        await _respond(send, f.status, data, {"content-type": "application/json", **f.headers})

    async def _stream(
        self, send: Send, receive: Receive, stream: Stream, reply: Reply, delay: float, fault: Failure | None
    ) -> None:
        """Write the frames, pausing ``delay`` between deltas; a fault or a client hanging up
        drops the connection (no end of the chunked body) and counts in ``closed_streams``."""
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache", **reply.headers}
        await send({"type": "http.response.start", "status": 200, "headers": _headers(headers)})

        ending = asyncio.Event()  # the last frame is going out: its own close is no hang-up

        async def write() -> bool:
            end = stream.cut if fault is not None else len(stream.frames)
            for i, frame in enumerate(stream.frames[:end]):
                if delay and i >= stream.unpaced:
                    await asyncio.sleep(delay)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            if fault is not None:
                if stream.torn:
                    await send({"type": "http.response.body", "body": stream.torn, "more_body": True})
                return False
            ending.set()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return True

        writer = asyncio.ensure_future(write())
        watcher = asyncio.ensure_future(_disconnected(receive))
        await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        watcher.cancel()
        if ending.is_set():
            await writer
        elif not writer.done():
            writer.cancel()
        completed = writer.done() and not writer.cancelled() and writer.result()
        if not completed:
            with self._lock:
                self.closed_streams += 1


_STREAMS: dict[Wire, Callable[[Reply], Stream]] = {
    "anthropic": anthropic.stream,
    "responses": responses.stream,
}


def _render(wire: Wire, reply: Reply) -> dict[str, Any]:
    if wire == "anthropic":
        return anthropic.message(reply)
    return chat.message(reply) if wire == "chat" else responses.response(reply)


def _provider(path: str) -> str | None:
    head, _, _ = path.partition("/v1/")
    name = head.strip("/")
    return name if name and "/" not in name else None


def _headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _respond(send: Send, status: int, data: bytes, headers: dict[str, str]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _headers(headers)})
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _json(send: Send, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
    await _respond(
        send, status, json.dumps(obj).encode(), {"content-type": "application/json", **(headers or {})}
    )


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
