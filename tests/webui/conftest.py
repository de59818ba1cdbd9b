"""Fixtures for the dashboard tests: the real gateway (Hypercorn on loopback, fake upstream),
seeded telemetry, a one-time dashboard link, and a headless Chromium shared per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from stackbilt_gateway.daemon.telemetry.store import db_path
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread
from tests.webui.browser import Browser
from tests.webui.seed import seed

KEY_HEADERS = {"x-api-key": GATEWAY_KEY}


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def gateway(fake_upstream: FakeUpstream, isolated_home: Path) -> Iterator[GatewayThread]:
    """A fresh gateway per test, its data under the test's own home (``isolated_home``)."""
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    yield gw
    gw.stop()


@pytest.fixture
def database(isolated_home: Path) -> Path:
    return db_path(resolve_paths({"STACKBILT_GATEWAY_HOME": str(isolated_home)}).data_dir)


@pytest.fixture
def seeded(gateway: GatewayThread, database: Path) -> GatewayThread:
    seed(database)
    return gateway


@pytest.fixture
def http(gateway: GatewayThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, trust_env=False, timeout=10.0) as client:
        yield client


def one_time_url(gateway: GatewayThread) -> str:
    """What the window/CLI does: ask for a session link with the gateway key."""
    resp = httpx.post(
        gateway.url + "/control/session", headers=KEY_HEADERS, json={}, timeout=10.0, trust_env=False
    )
    resp.raise_for_status()
    url = resp.json()["url"]
    assert url.startswith("/ui/?token=")
    return gateway.url + url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()
