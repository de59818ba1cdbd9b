"""The real gateway app under a real Hypercorn server, in a thread, on a free loopback port.

Owns the tests' way of building the app (a fixed gateway key, keys from ``env`` only, never the
keyring); serving is the simulator's ``ThreadedServer``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.http.app import create_app
from stackbilt_gateway.daemon.simulator.threaded import ThreadedServer, free_port

GATEWAY_KEY = "sgw-test-gateway-key-0123456789"

__all__ = ["GATEWAY_KEY", "GatewayThread", "free_port"]


@dataclass
class GatewayThread:
    env: Mapping[str, str]
    config: Config = field(default_factory=Config)
    gateway_key: str = GATEWAY_KEY
    port: int = 0
    # The gateway's own home (data, state); a fresh temporary folder when not given.
    home: Path | None = None
    _server: ThreadedServer | None = None

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
        self._server = ThreadedServer(app, port=self.port, name="gateway", graceful_timeout=5).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def _fields(cfg: Config) -> dict[str, object]:
    return {name: getattr(cfg, name) for name in cfg.__dataclass_fields__}
