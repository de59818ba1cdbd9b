"""Typed gateway configuration.

Layers, lowest first: defaults < user config file (``<config_dir>/config.json``) <
``gateway.config.json`` / ``stackbilt.gateway.json`` in the working directory < environment
(``STACKBILT_GATEWAY_PORT``, ``STACKBILT_GATEWAY_HOST``, ``STACKBILT_<NAME>_BASE_URL``) <
CLI flags. Loaded once per process into a frozen ``Config``. Secrets never live here: the
gateway key is in its own file (``gatewaykey``), provider keys in the keyring (``secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Upstream timeouts in seconds."""

    connect: float = 10.0
    # Until the upstream's response headers arrive (long thinking turns can be slow).
    first_byte: float = 600.0
    # Between two chunks of a streaming body.
    idle: float = 300.0


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    base_url: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Extra Host header names accepted besides loopback names (e.g. behind a local proxy).
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY
    timeouts: Timeouts = field(default_factory=Timeouts)
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    # Client model name -> "provider/model" (applies before prefix rules).
    model_map: dict[str, str] = field(default_factory=dict)
    log_level: str = "info"
    # Seconds the daemon waits for in-flight streams on shutdown.
    graceful_timeout: float = 60.0
    # Files that contributed, lowest precedence first (for `status` and error messages).
    sources: tuple[Path, ...] = ()
