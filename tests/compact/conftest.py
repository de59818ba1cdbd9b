"""A fake upstream and a gateway whose registry shrinks one model's window (for chunking)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

AUTH = {"x-api-key": GATEWAY_KEY, "user-agent": "claude-cli/2.1.330 (external)"}
# Small enough that a long transcript needs several chunks; excluded from "auto" (< 16k).
SMALL = "groq/llama-3.1-8b-instant"
SMALL_WINDOW = 6_000


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream().start()
    yield upstream
    upstream.stop()


def start_gateway(fake: FakeUpstream, config: Config, home: Path) -> GatewayThread:
    """A gateway whose data (telemetry, response cache) lives under ``home``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STACKBILT_GATEWAY_HOME", str(home))
        return GatewayThread(env=upstream_env(fake), config=config).start()


@pytest.fixture(scope="module")
def gw(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    config = Config(models={SMALL: {"context_window": SMALL_WINDOW}})
    gateway = start_gateway(fake, config, tmp_path_factory.mktemp("gw-home"))
    yield gateway
    gateway.stop()


@pytest.fixture
def upstream(fake: FakeUpstream) -> FakeUpstream:
    fake.reset()
    return fake


def compact(gw: GatewayThread, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{gw.url}/v1/context/compact", json=body, headers={**AUTH, **headers}, timeout=30)


def events(gw: GatewayThread, n: int, **params: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gw.url}/events/recent", params=params, headers=AUTH, timeout=5).json()["events"]
        if len(rows) >= n:
            return rows
        time.sleep(0.05)
    return rows
