"""Run the real gateway app under a real Hypercorn server, in a thread, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.http.app import create_app

GATEWAY_KEY = "sgw-test-gateway-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayThread:
    env: Mapping[str, str]
    config: Config = field(default_factory=Config)
    gateway_key: str = GATEWAY_KEY
    port: int = 0
    # The gateway's own home (data, state); a fresh temporary folder when not given.
    home: Path | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayThread:
        self.port = self.port or free_port()
        cfg = Config(**{**_fields(self.config), "port": self.port})
        app = create_app(
            cfg,
            gateway_key=self.gateway_key,
            keys=KeyStore(self.env, self.gateway_key, use_keyring=False),
            env=self.env,
        )
        hc = HypercornConfig()
        hc.bind = [f"127.0.0.1:{self.port}"]
        hc.accesslog = None
        hc.graceful_timeout = 5
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stop = asyncio.Event()

            async def main() -> None:
                assert self._stop is not None
                task = asyncio.ensure_future(serve(app, hc, shutdown_trigger=self._stop.wait))  # type: ignore[arg-type]
                for _ in range(200):
                    try:
                        _, w = await asyncio.open_connection("127.0.0.1", self.port)
                        w.close()
                        break
                    except OSError:
                        await asyncio.sleep(0.02)
                ready.set()
                await task

            loop.run_until_complete(main())
            loop.close()

        self._thread = threading.Thread(target=run, name="gateway", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("gateway did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)


def _fields(cfg: Config) -> dict[str, object]:
    return {name: getattr(cfg, name) for name in cfg.__dataclass_fields__}
