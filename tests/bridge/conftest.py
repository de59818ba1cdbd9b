"""Fixtures for the Claude Code CLI bridge: the real pinned ``claude`` binary, pointed at the fake
Anthropic upstream, run by a real gateway on loopback; and a way to see the CLI processes the
gateway started (its children: the gateway runs in this test process)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.markers import MarkerScript
from stackbilt_gateway.daemon.simulator.reply import Call, latest_turn
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import QUIET_CLAUDE, client_binary
from tests.fakes.gateway import GatewayThread

# The login the CLI uses (a stand-in for the user's subscription token) and the gateway's own
# Anthropic provider key, which must never reach the CLI.
LOGIN_TOKEN = "cli-login-token-for-the-fake"
PROVIDER_KEY = "sk-ant-gateway-provider-key-0123456789"
CRAWL_DELAY = 1.5


class CrawlingScript(MarkerScript):
    """The marker script, plus ``CRAWL``: 1.5 s between stream deltas (a long-running CLI)."""

    def delay(self, call: Call) -> float:
        if "CRAWL" in latest_turn(call)[0]:
            return CRAWL_DELAY
        return super().delay(call)


@pytest.fixture(scope="session")
def cli_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream(script=CrawlingScript()).start()
    yield fake
    fake.stop()


@pytest.fixture
def upstream(cli_upstream: FakeUpstream) -> FakeUpstream:
    cli_upstream.reset()
    return cli_upstream


def cli_env(fake: FakeUpstream, home: Path, **extra: str) -> dict[str, str]:
    """The daemon's environment: the real CLI's binary, its own HOME, and where its login points."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_AUTH_TOKEN": LOGIN_TOKEN,
        "ANTHROPIC_API_KEY": PROVIDER_KEY,
        "STACKBILT_CLAUDE_BIN": str(client_binary("claude")),
        **QUIET_CLAUDE,
        **extra,
    }


def start_gateway(env: dict[str, str], config: Config | None = None) -> GatewayThread:
    return GatewayThread(env=env, config=config or Config()).start()


def stop_gateway(gw: GatewayThread) -> None:
    """Stop ``gw`` once its CLI runs are over (a run ends just after its client has its answer)."""
    deadline = time.monotonic() + 10
    while cli_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # the run's own reaping, after its process is gone
    gw.stop()


@pytest.fixture
def gateway(upstream: FakeUpstream, tmp_path: Path) -> Iterator[GatewayThread]:
    gw = start_gateway(cli_env(upstream, tmp_path / "claude-home"))
    yield gw
    stop_gateway(gw)


def cli_children() -> list[psutil.Process]:
    """The ``claude`` processes this test process started (the gateway's bridge runs)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "claude" in " ".join(child.cmdline()[:1]):
                found.append(child)
        except psutil.Error:
            continue
    return found
