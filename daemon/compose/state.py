"""The per-app runtime state shared by blueprints (config, keys, router, telemetry, mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from quart import current_app

from ..cache.store import ResponseCache
from ..control.mode import ModeStore
from ..core.config import Config
from ..routing.runtime import Router
from ..telemetry.recorder import Recorder
from ..telemetry.writer import EventWriter
from ..upstream.client import UpstreamClient

if TYPE_CHECKING:
    from ..control.secrets import KeyStore


@dataclass(slots=True)
class GatewayState:
    config: Config
    gateway_key: str
    keys: KeyStore
    env: Mapping[str, str]
    upstream: UpstreamClient
    router: Router
    mode: ModeStore
    db_path: Path
    writer: EventWriter | None = None
    recorder: Recorder | None = None
    # Providers whose base URL points back at the gateway itself: name -> explanation.
    loops: dict[str, str] = field(default_factory=dict)
    # The response cache (created on first use when cache.responses.enabled; tests inject one).
    response_cache: ResponseCache | None = None


def state() -> GatewayState:
    return cast(GatewayState, current_app.extensions["stackbilt"])
