"""Fixtures for the Responses-upstream tests: the fake upstream (it speaks ``/v1/responses``)
and a gateway whose ``openai`` provider points at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GatewayThread

MODEL = "gpt-5.5"


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> FakeUpstream:
    fake_upstream.reset()
    return fake_upstream


@pytest.fixture(scope="session")
def gateway(fake_upstream: FakeUpstream) -> Iterator[GatewayThread]:
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    yield gw
    gw.stop()
