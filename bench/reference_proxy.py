"""The reference for the CPU budget: a bare pass-through proxy on the gateway's own stack.

Owns one thing: relaying ``POST /<path>`` to ``--upstream`` + the same path, bytes in and bytes
out, with Quart on Hypercorn and one ``httpx.AsyncClient`` over ``httpx_aiohttp``'s
``AiohttpTransport`` — the same stack and the same server settings the gateway daemon uses.
No parsing, classification, routing, credentials or telemetry: the gateway's budget is CPU per
request <= 1.5x this process's, measured in the same run (``bench.run``). ``GET /health`` is
open, for readiness.

Run: ``python -m bench.reference_proxy --port N --upstream http://127.0.0.1:M`` (prints
``READY <port>`` once listening).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import httpx
from httpx_aiohttp import AiohttpTransport
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart, Response, request
from werkzeug.datastructures import Headers

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
DROP_RESPONSE = HOP_BY_HOP | {"date", "server"}


def create_app(upstream: str) -> Quart:
    """A Quart app relaying every POST to ``upstream`` + path (query string kept)."""
    app = Quart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    app.config["BODY_TIMEOUT"] = 120
    app.config["RESPONSE_TIMEOUT"] = None
    clients: list[httpx.AsyncClient] = []

    @app.before_serving
    async def _open() -> None:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        timeout = httpx.Timeout(connect=10, read=None, write=60, pool=10)
        clients.append(httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False))

    @app.after_serving
    async def _close() -> None:
        for client in clients:
            await client.aclose()

    @app.get("/health")
    async def _health() -> Response:
        return Response(b'{"status":"ok"}', content_type="application/json")

    @app.post("/<path:path>")
    async def _relay(path: str) -> Response:
        client = clients[0]
        body = await request.get_data(cache=False, as_text=False)
        query = request.query_string.decode("latin-1")
        url = f"{upstream}/{path}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        upstream_req = client.build_request("POST", url, headers=headers, content=body)
        resp = await client.send(upstream_req, stream=True)
        out_headers = Headers(
            [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in DROP_RESPONSE]
        )
        if resp.headers.get("content-type", "").startswith("text/event-stream"):

            async def relay() -> AsyncIterator[bytes]:
                try:
                    async for chunk in resp.aiter_raw():
                        yield chunk
                finally:
                    await resp.aclose()

            streamed = Response(relay(), status=resp.status_code, headers=out_headers)
            streamed.timeout = None
            return streamed
        try:
            data = await resp.aread()
        finally:
            await resp.aclose()
        return Response(data, status=resp.status_code, headers=out_headers)

    return app


async def _main(host: str, port: int, upstream: str) -> None:
    hc = HypercornConfig()
    hc.bind = [f"{host}:{port}"]
    hc.accesslog = None
    hc.keep_alive_timeout = 75.0  # as the daemon (daemon/server.py)
    hc.include_server_header = False
    hc.graceful_timeout = 5
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(upstream.rstrip("/"))

    @app.before_serving
    async def _ready() -> None:
        print(f"READY {port}", flush=True)

    await serve(app, hc, shutdown_trigger=stop.wait)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reference_proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the reference proxy binds loopback only")
    asyncio.run(_main(args.host, args.port, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
