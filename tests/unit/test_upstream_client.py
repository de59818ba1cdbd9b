"""The shared upstream client against a real aiohttp server on loopback: what goes on the wire
(no cookie jar, identity encoding, the gateway's user agent), URL reuse, and failure mapping."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from stackbilt_gateway.daemon.config import Timeouts
from stackbilt_gateway.daemon.core.errors import UpstreamTimeout, UpstreamUnavailable
from stackbilt_gateway.daemon.providers.upstream import USER_AGENT, UpstreamClient


async def _echo(request: web.Request) -> web.Response:
    resp = web.json_response(
        {
            "path_qs": request.path_qs,
            "cookie": request.headers.get("cookie"),
            "accept-encoding": request.headers.get("accept-encoding"),
            "user-agent": request.headers.get("user-agent"),
            "body": (await request.read()).decode(),
        }
    )
    # Upstreams (CDNs) set cookies; a gateway must never send them back on later requests.
    resp.set_cookie("__cf_bm", "tracking-value")
    return resp


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    app.router.add_post("/slow", _slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _post(client: UpstreamClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    resp = await client.open("POST", url, headers=headers, content=b"{}", provider="test")
    try:
        data: dict[str, str] = json.loads(await resp.read(1 << 20))
    finally:
        await resp.aclose()
    return data


async def test_no_cookie_jar_identity_encoding_and_the_gateway_user_agent(server: str) -> None:
    client = UpstreamClient(Timeouts())
    try:
        first = await _post(client, f"{server}/echo?beta=true", {"content-type": "application/json"})
        assert first["path_qs"] == "/echo?beta=true" and first["body"] == "{}"
        assert first["accept-encoding"] == "identity"  # bodies are read raw: never compressed
        assert first["user-agent"] == USER_AGENT
        second = await _post(
            client, f"{server}/echo", {"User-Agent": "claude-cli/2", "Accept-Encoding": "br"}
        )
        assert second["cookie"] is None  # the first response's Set-Cookie was not kept
        assert second["path_qs"] == "/echo"  # a reused parsed URL does not leak its query
        assert second["user-agent"] == "claude-cli/2" and second["accept-encoding"] == "br"
    finally:
        await client.aclose()


async def test_first_byte_timeout_and_refused_connection_are_mapped(server: str) -> None:
    client = UpstreamClient(Timeouts(first_byte=0.3))
    try:
        with pytest.raises(UpstreamTimeout, match="timed out"):
            await client.open("POST", f"{server}/slow", headers={}, content=b"", provider="test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        with pytest.raises(UpstreamUnavailable, match="cannot connect"):
            await client.open(
                "POST", f"http://127.0.0.1:{closed}/x", headers={}, content=b"", provider="test"
            )
    finally:
        await client.aclose()
