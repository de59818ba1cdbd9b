"""Run an ASGI app under Hypercorn in a thread, on a loopback port, with its own shutdown trigger.

Owns binding ``127.0.0.1:<port>`` (a free one when ``port`` is 0: the socket is bound here and
handed to Hypercorn, so the port is known before serving and nothing can take it in between), the
thread and its event loop, waiting until the server accepts connections, and a graceful stop.
Used for the gateway's Quart app (tests' ``GatewayThread``, the demo's ``DemoGateway``) and for
the simulated upstream. Does not own the app: callers build it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

HOST = "127.0.0.1"
# Hypercorn logs "Running on …" at INFO; warnings and errors still reach logging's handlers.
_QUIET = logging.getLogger("stackbilt_gateway.simulator.server")
_QUIET.setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """``start()`` → serving ``app`` on ``url`` from a daemon thread; ``stop()`` drains and joins."""

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        name: str = "asgi-server",
        graceful_timeout: float = 5.0,
        start_timeout: float = 15.0,
    ) -> None:
        self.app = app
        self.port = port
        self.name = name
        self.graceful_timeout = graceful_timeout
        self.start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _bind(self) -> int:
        """A bound (not yet listening) socket's descriptor; Hypercorn listens on it and closes it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self.port))
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        return sock.detach()

    def start(self) -> ThreadedServer:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config as HypercornConfig

        hc = HypercornConfig()
        hc.bind = [f"fd://{self._bind()}"]
        hc.accesslog = None
        hc.errorlog = _QUIET
        hc.graceful_timeout = self.graceful_timeout
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            task = asyncio.ensure_future(serve(self.app, hc, shutdown_trigger=self._stop.wait))
            while not task.done():
                try:
                    _, writer = await asyncio.open_connection(HOST, self.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                break
            ready.set()
            await task

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # reported by start(); the thread just ends
                self._error = exc
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(self.start_timeout) or self._error is not None or not self._thread.is_alive():
            self.stop()
            raise RuntimeError(f"{self.name} did not start on {self.url}") from self._error
        return self

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                pass
        if self._thread is not None:
            self._thread.join(self.graceful_timeout + 10)
