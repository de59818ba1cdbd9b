"""A fake upstream per module and gateways whose data lives in a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}


def start_gateway(fake: FakeUpstream, config: Config, home: Path) -> GatewayThread:
    """A gateway whose data (telemetry, response cache) lives under ``home``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STACKBILT_GATEWAY_HOME", str(home))
        return GatewayThread(env=upstream_env(fake), config=config).start()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream().start()
    yield upstream
    upstream.stop()


@pytest.fixture
def upstream(fake: FakeUpstream) -> FakeUpstream:
    fake.reset()
    return fake
