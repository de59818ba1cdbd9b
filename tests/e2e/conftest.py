"""Fixtures for socket-level tests: a fake upstream and the real gateway on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> FakeUpstream:
    fake_upstream.reset()
    return fake_upstream


def upstream_env(fake: FakeUpstream) -> dict[str, str]:
    return {
        "STACKBILT_ANTHROPIC_BASE_URL": fake.url,
        "STACKBILT_GROQ_BASE_URL": fake.url + "/v1",
        "STACKBILT_OLLAMA_BASE_URL": fake.url + "/v1",
        "STACKBILT_OPENAI_BASE_URL": fake.url + "/v1",
        "OPENAI_API_KEY": "sk-openai-fake-upstream-key",
        "ANTHROPIC_API_KEY": "sk-ant-fake-upstream-key",
        "GROQ_API_KEY": "gsk-fake-upstream-key",
    }


@pytest.fixture(scope="session")
def gateway(fake_upstream: FakeUpstream) -> Iterator[GatewayThread]:
    gw = GatewayThread(env=upstream_env(fake_upstream)).start()
    yield gw
    gw.stop()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}


def wait_events(gw: GatewayThread, n: int, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The gateway's newest events once at least ``n`` are recorded (events are written just after
    the response); fails after 10 s."""
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{gw.url}/events/recent", headers=headers or {"x-api-key": GATEWAY_KEY}, timeout=5
        ).json()["events"]
        if len(rows) >= n:
            return list(rows)
        time.sleep(0.05)
    raise AssertionError(f"expected {n} events, found {len(rows)}")
