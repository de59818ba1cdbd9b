"""The daemon's one upstream HTTP client and its failure mapping.

One httpx transport per daemon: ``httpx_aiohttp``'s aiohttp transport (keep-alive, ~3x cheaper
per request than httpx's default transport here), called directly with ``httpx.Request``
objects. A gateway wants none of ``httpx.AsyncClient``'s extras: no cookie jar (an upstream's
``Set-Cookie`` must never ride along on the next user's request, so the aiohttp session's jar is
a dummy too), no default headers, no auth or redirect machinery, and they cost ~40 µs per
request. Explicit connect / first-byte / idle timeouts, and bounds on one response body (its total
time and size: a stream that keeps sending is cut, never held forever). Requests always ask for
``accept-encoding: identity`` unless the caller chose (bodies are read raw and parsed or
tapped) and carry the gateway's user agent when the caller sent none. Transport failures become
``UpstreamTimeout`` / ``UpstreamUnavailable`` here, once. Knows nothing of protocols: callers
build requests and read bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ..core.config import Timeouts
from ..core.errors import GatewayError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnavailable

USER_AGENT = "stackbilt-llm-gateway/0.1"
MAX_CONNECTIONS = 200
KEEPALIVE_S = 5.0
# Parsed URLs kept for reuse (base URL + path + query: a handful per provider in practice).
URL_CACHE_SIZE = 512


def _origin(url: str) -> str:
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}{':' + str(u.port) if u.port else ''}"


def map_transport_error(exc: BaseException, provider: str, url: str) -> GatewayError:
    """Translate a transport exception into the hierarchy (the one place that does)."""
    where = f"{provider} ({_origin(url)})"
    cause = exc.__cause__ or exc
    if isinstance(cause, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return UpstreamUnavailable(f"cannot connect to {where}: {cause}", provider=provider)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | httpx.TimeoutException) and not isinstance(
        cause, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
    ):
        return UpstreamTimeout(f"{where} timed out: {exc or 'no response'}", provider=provider)
    return UpstreamUnavailable(
        f"connection to {where} failed: {cause or type(cause).__name__}", provider=provider
    )


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: httpx.Headers
    _resp: httpx.Response
    _idle: float
    _provider: str
    _url: str
    # The whole body's time (seconds from the response head: ``_deadline`` in loop time) and size.
    _total: float = float("inf")
    _deadline: float = float("inf")
    _max_bytes: int | None = None
    _complete: bool = False

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; raises a GatewayError on an idle timeout, a drop, or a body
        past its total time or size."""
        if self._resp.is_stream_consumed:  # a pre-read body (in-memory transports)
            if self._resp.content:
                yield self._resp.content
            return
        it = self._resp.aiter_raw().__aiter__()
        loop = asyncio.get_running_loop()
        deadline, idle, limit = self._deadline, self._idle, self._max_bytes
        size = 0
        while True:
            now = loop.time()
            try:
                async with asyncio.timeout_at(min(now + idle, deadline)):
                    chunk = await it.__anext__()
            except StopAsyncIteration:
                self._complete = True
                return
            except TimeoutError as exc:
                if loop.time() >= deadline:
                    raise self._too_long() from exc
                raise map_transport_error(exc, self._provider, self._url) from exc
            except (httpx.TransportError, aiohttp.ClientError) as exc:
                raise map_transport_error(exc, self._provider, self._url) from exc
            if chunk:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise UpstreamProtocolError(
                        f"{self._provider} sent more than {limit} bytes in one response "
                        "(timeouts.stream_max_bytes)",
                        provider=self._provider,
                    )
                yield chunk

    def _too_long(self) -> UpstreamTimeout:
        return UpstreamTimeout(
            f"{self._provider} was still sending after {self._total:g} s, the total time allowed for "
            "one response (timeouts.stream_total)",
            provider=self._provider,
        )

    async def read(self, limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes (more is a protocol error upstream)."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.iter_raw():
            size += len(chunk)
            if size > limit:
                raise UpstreamUnavailable(
                    f"{self._provider} response exceeds {limit} bytes", provider=self._provider
                )
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Release the response; one abandoned mid-body drops its connection (never pooled)."""
        if not self._complete:
            raw = getattr(self._resp.stream, "_aiohttp_response", None)
            if raw is not None:
                raw.close()
        await self._resp.aclose()


def _session(transport: AiohttpTransport) -> aiohttp.ClientSession:
    """The aiohttp session under the transport: pooled keep-alive, no cookie jar."""
    connector = aiohttp.TCPConnector(
        limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S, ssl=transport.ssl_context
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def _defaults(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The caller's headers plus identity encoding and the gateway's user agent if missing."""
    out = list(headers.items())
    names = {name.lower() for name, _ in out}
    if "accept-encoding" not in names:
        out.append(("accept-encoding", "identity"))
    if "user-agent" not in names:
        out.append(("user-agent", USER_AGENT))
    return out


class UpstreamClient:
    """Shared upstream client. ``transport`` is injectable (``httpx.MockTransport`` in tests)."""

    def __init__(self, timeouts: Timeouts, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeouts = timeouts
        if transport is None:
            # trust_env: the TLS context honours SSL_CERT_FILE / SSL_CERT_DIR (corporate CAs).
            aio = AiohttpTransport(limits=httpx.Limits(max_connections=MAX_CONNECTIONS), trust_env=True)
            aio.client = lambda: _session(aio)
            transport = aio
        self._transport = transport
        # What httpx.AsyncClient would attach: the transport maps it onto aiohttp's timeouts.
        connect = timeouts.connect
        timeout = httpx.Timeout(connect=connect, read=None, write=timeouts.idle, pool=connect)
        self._extensions: dict[str, Any] = {"timeout": timeout.as_dict()}
        self._urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        provider: str,
    ) -> UpstreamResponse:
        """Send a request and wait for the response head (first-byte timeout).

        The caller must ``aclose()`` the result (or read it to the end).
        """
        request = httpx.Request(
            method, self._url(url), headers=_defaults(headers), content=content, extensions=self._extensions
        )
        try:
            async with asyncio.timeout(self.timeouts.first_byte):
                resp = await self._transport.handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise map_transport_error(exc, provider, url) from exc
        total = self.timeouts.stream_total
        return UpstreamResponse(
            resp.status_code,
            resp.headers,
            resp,
            self.timeouts.idle,
            provider,
            url,
            total,
            asyncio.get_running_loop().time() + total,
            self.timeouts.stream_max_bytes,
        )
