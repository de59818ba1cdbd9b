"""The composition root: everything the gateway holds for its life, built once at start-up.

From explicit inputs (config, gateway key, key store, the environment snapshot, an injectable
upstream transport, paths): the providers with their base URLs resolved and request loops found,
the router, the upstream client, the mode store, the telemetry writer and recorder, the OTLP
exporter when ``telemetry.otlp.endpoint`` is set, the response cache, and the ``Settle`` hook that
finishes every record. No I/O here: files open when the app starts serving (the writer) or on
first use (the cache's database); the OTLP exporter's threads send only once there is something.
The one read here is governance's small clients file (a broken one refuses start-up). The
config's ``aliases`` join ``model_map`` (its own entries win).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..cache.store import DB_NAME as RESPONSE_CACHE_DB
from ..cache.store import ResponseCache
from ..control.mode import ModeStore, parse_mode
from ..control.paths import Paths
from ..control.secrets import KeyStore
from ..core.config import Config, ConfigError
from ..governance.admission import Governance
from ..governance.clients_store import clients_file
from ..governance.directory import ClientDirectory
from ..routing.runtime import Router
from ..telemetry.recorder import Recorder
from ..telemetry.store import db_path
from ..telemetry.writer import EventWriter
from ..upstream.client import UpstreamClient
from ..upstream.targets import Providers
from .settle import Settle
from .state import GatewayState

if TYPE_CHECKING:
    from ..telemetry.otlp import OtlpExporter
    from ..telemetry.postgres import PostgresLedger

log = logging.getLogger("stackbilt_gateway.http")


def build_otlp(config: Config) -> OtlpExporter | None:
    """The OTLP exporter when ``telemetry.otlp.endpoint`` is set (the SDK is imported only then)."""
    settings = config.telemetry.otlp
    if not settings.endpoint:
        return None
    try:
        from ..telemetry.otlp import OtlpExporter
    except ImportError as exc:
        raise ConfigError(
            f"telemetry.otlp.endpoint is set but OpenTelemetry is not installed ({exc.name}); "
            "install the extra: pip install 'stackbilt-llm-gateway[otel]'"
        ) from None
    from .. import __version__

    return OtlpExporter(settings, store_prompts=config.telemetry.store_prompts, version=__version__)


def build_ledger(config: Config, database: Path, env: Mapping[str, str]) -> PostgresLedger | None:
    """The team ledger when ``telemetry.postgres_url`` is set (psycopg is imported only then)."""
    url = config.telemetry.postgres_url
    if not url:
        return None
    try:
        from ..telemetry.postgres import PostgresLedger, identity
    except ImportError as exc:
        raise ConfigError(
            f"telemetry.postgres_url is set but psycopg is not installed ({exc.name}); "
            "install the extra: pip install 'stackbilt-llm-gateway[team]'"
        ) from None
    machine, user = identity(env)
    return PostgresLedger(url, database, machine=machine, user=user)


def build_state(
    config: Config,
    *,
    gateway_key: str,
    keys: KeyStore,
    env: Mapping[str, str],
    paths: Paths,
    transport: httpx.AsyncBaseTransport | None = None,
    telemetry: bool = True,
) -> GatewayState:
    """The gateway's state; ``telemetry=False`` keeps events out of SQLite (some unit tests)."""
    if config.aliases:  # governance aliases resolve like model_map entries (model_map wins)
        config = replace(config, model_map={**config.aliases, **config.model_map})
    providers = Providers.resolve_all(config, env)
    for reason in providers.loops.values():
        log.warning("%s", reason)
    router = Router.from_config(config, providers)
    database = db_path(paths.data_dir, config.telemetry.db_path)
    writer = (
        EventWriter(
            database,
            retention_days=config.telemetry.retention_days,
            store_prompts=config.telemetry.store_prompts,
            ledger=build_ledger(config, database, env),
        )
        if telemetry
        else None
    )
    otlp = build_otlp(config)
    recorder = Recorder(router.prices, writer, sink=otlp.emit if otlp is not None else None)
    responses = config.cache.responses
    return GatewayState(
        config=config,
        gateway_key=gateway_key,
        keys=keys,
        env=env,
        providers=providers,
        upstream=UpstreamClient(config.timeouts, transport),
        router=router,
        mode=ModeStore(paths.state_dir / "mode.json", parse_mode(config.mode)),
        db_path=database,
        settle=Settle(router, recorder if writer is not None or otlp is not None else None),
        governance=Governance(
            config,
            ClientDirectory(clients_file(paths.config_dir), gateway_key, config.clients),
            router.prices,
        ),
        writer=writer,
        recorder=recorder,
        otlp=otlp,
        response_cache=ResponseCache(database.parent / RESPONSE_CACHE_DB, responses)
        if responses.enabled
        else None,
    )
