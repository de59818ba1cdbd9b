"""The per-app runtime state shared by blueprints and the pipeline, built once by ``compose.root``.

Holds the config, the gateway key, the key store, the providers as resolved at start-up, the
upstream client, the router, the mode, telemetry (writer, recorder, OTLP exporter) and the
response cache, plus ``settle``: every request record's ``on_finish`` hook. Does not build
anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from quart import current_app

from ..cache.store import ResponseCache
from ..control.mode import ModeStore
from ..core.config import Config
from ..governance.admission import Governance
from ..routing.runtime import Router
from ..telemetry.recorder import Recorder
from ..telemetry.writer import EventWriter
from ..upstream.client import UpstreamClient
from ..upstream.targets import Providers
from .settle import Settle

if TYPE_CHECKING:
    from ..control.secrets import KeyStore
    from ..telemetry.otlp import OtlpExporter


@dataclass(slots=True)
class GatewayState:
    config: Config
    gateway_key: str
    keys: KeyStore
    # The daemon's environment as it was at start-up (only read for flags such as the demo's).
    env: Mapping[str, str]
    providers: Providers
    upstream: UpstreamClient
    router: Router
    mode: ModeStore
    db_path: Path
    settle: Settle
    # Client identities, policies, budgets and rate limits (``governance.admission``).
    governance: Governance
    writer: EventWriter | None = None
    recorder: Recorder | None = None
    # The OpenTelemetry exporter (None unless telemetry.otlp.endpoint); shut down after serving.
    otlp: OtlpExporter | None = None
    # The response cache (None unless cache.responses.enabled).
    response_cache: ResponseCache | None = None
    # Set when the daemon was asked to stop: a stream cut from here on was cut by the shutdown.
    stopping: bool = False

    @property
    def loops(self) -> dict[str, str]:
        """Providers whose base URL points back at the gateway itself: name → explanation."""
        return self.providers.loops


def state() -> GatewayState:
    return cast(GatewayState, current_app.extensions["stackbilt"])
