"""The per-app runtime state shared by blueprints (config, keys, the upstream client)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from quart import current_app

from ..config import Config
from ..providers.upstream import UpstreamClient

if TYPE_CHECKING:
    from ..secrets import KeyStore


@dataclass(slots=True)
class GatewayState:
    config: Config
    gateway_key: str
    keys: KeyStore
    env: Mapping[str, str]
    upstream: UpstreamClient
    # Providers whose base URL points back at the gateway itself: name -> explanation.
    loops: dict[str, str] = field(default_factory=dict)


def state() -> GatewayState:
    return cast(GatewayState, current_app.extensions["stackbilt"])
