"""The floor: a store-and-forward HTTP/1.1 relay on raw asyncio streams, no framework at all.

Owns one thing: showing what moving a request through *any* Python proxy costs on this
machine, below the Quart/Hypercorn/aiohttp stack the product is built on. It reads a request
head and its ``Content-Length`` body, writes both unchanged to one keep-alive upstream
connection per client connection, and relays the response (``Content-Length`` or chunked) as
it arrives. No header handling, no HTTP features beyond what the benchmark's clients and fake
upstream use. ``GET /health`` answers locally, for readiness.

Not the budget's reference (``bench.reference_proxy`` is). Run it in that seat with
``python -m bench.run --reference floor`` to see how much of a cell's cost is the stack's.

Run: ``python -m bench.floor_proxy --port N --upstream http://127.0.0.1:M`` (prints
``READY <port>`` once listening).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from urllib.parse import urlsplit

HEALTH = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"status":"ok"}'


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


async def _relay_response(upstream: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
    head = await upstream.readuntil(b"\r\n\r\n")
    client.write(head)
    if b"transfer-encoding: chunked" not in head.lower():
        client.write(await upstream.readexactly(_content_length(head)))
        return
    while True:
        size_line = await upstream.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        client.write(size_line + await upstream.readexactly(size + 2))
        if size == 0:
            return


async def _serve_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
) -> None:
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            n = _content_length(head)
            body = await reader.readexactly(n) if n else b""
            if head.startswith(b"GET /health"):
                writer.write(HEALTH)
                await writer.drain()
                return
            if upstream is None:
                upstream = await asyncio.open_connection(host, port)
            upstream[1].write(head + body)
            await _relay_response(upstream[0], writer)
            await writer.drain()
    finally:
        writer.close()
        if upstream is not None:
            upstream[1].close()


async def _main(host: str, port: int, upstream_url: str) -> None:
    target = urlsplit(upstream_url)
    up_host, up_port = target.hostname or "127.0.0.1", target.port or 80
    server = await asyncio.start_server(lambda r, w: _serve_client(r, w, up_host, up_port), host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.host, args.port, args.upstream))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
