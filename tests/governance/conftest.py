"""A gateway per test with governance config, in the test's own home (its clients file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.governance.clients_store import add_client, clients_file
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import fake_upstream, upstream, upstream_env
from tests.fakes.gateway import GatewayThread

# The e2e fixtures this directory shares (imported: a fixture is found where it is defined or imported).
__all__ = ["fake_upstream", "upstream"]

Start = Callable[..., GatewayThread]


@pytest.fixture
def start_gateway(fake_upstream: FakeUpstream) -> Iterator[Start]:
    started: list[GatewayThread] = []

    def start(config: Config | None = None) -> GatewayThread:
        gw = GatewayThread(env=upstream_env(fake_upstream), config=config or Config()).start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


def new_client(name: str, **limits: int) -> str:
    """A named client in this test's clients file; its key."""
    return add_client(clients_file(resolve_paths().config_dir), name, **limits)  # type: ignore[arg-type]
