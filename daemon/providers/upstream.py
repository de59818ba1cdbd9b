"""The daemon's one upstream HTTP client and its failure mapping.

One ``httpx.AsyncClient`` per daemon over the aiohttp transport (keep-alive, ~3x cheaper per
request than httpx's default transport here), with explicit connect / first-byte / idle
timeouts. Transport failures become ``UpstreamTimeout`` / ``UpstreamUnavailable`` here, once.
Knows nothing of protocols: callers build requests and read bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ..config import Timeouts
from ..core.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable


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
    _complete: bool = False

    async def iter_raw(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; raises a GatewayError on an idle timeout or a drop."""
        if self._resp.is_stream_consumed:  # a pre-read body (in-memory transports)
            if self._resp.content:
                yield self._resp.content
            return
        it = self._resp.aiter_raw().__aiter__()
        while True:
            try:
                async with asyncio.timeout(self._idle):
                    chunk = await it.__anext__()
            except StopAsyncIteration:
                self._complete = True
                return
            except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
                raise map_transport_error(exc, self._provider, self._url) from exc
            if chunk:
                yield chunk

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


class UpstreamClient:
    """Shared upstream client. ``transport`` is injectable (``httpx.MockTransport`` in tests)."""

    def __init__(self, timeouts: Timeouts, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeouts = timeouts
        self._client = httpx.AsyncClient(
            transport=transport
            or AiohttpTransport(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)),
            timeout=httpx.Timeout(
                connect=timeouts.connect, read=None, write=timeouts.idle, pool=timeouts.connect
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

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
        request = self._client.build_request(method, url, headers=headers, content=content)
        try:
            async with asyncio.timeout(self.timeouts.first_byte):
                resp = await self._client.send(request, stream=True)
        except (httpx.TransportError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise map_transport_error(exc, provider, url) from exc
        return UpstreamResponse(resp.status_code, resp.headers, resp, self.timeouts.idle, provider, url)
