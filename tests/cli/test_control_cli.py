"""``stackbilt-gw mode`` and ``stackbilt-gw stats`` against a real daemon process."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from stackbilt_gateway.daemon.control.gatewaykey import load_or_create_gateway_key
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.cli.conftest import run_cli
from tests.e2e.conftest import upstream_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream().start()
    yield upstream
    upstream.stop()


def test_mode_without_a_daemon_is_saved_for_the_next_start(stopped_daemon: Paths) -> None:
    shown = run_cli("mode")
    assert shown.returncode == 0 and shown.stdout.startswith("shadow")
    saved = run_cli("mode", "live")
    assert saved.returncode == 0 and "saved" in saved.stdout
    assert json.loads((stopped_daemon.state_dir / "mode.json").read_text()) == {"mode": "live"}
    bad = run_cli("mode", "turbo")
    assert bad.returncode == 2


def test_mode_and_stats_with_a_running_daemon(
    stopped_daemon: Paths, free_port: int, fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in upstream_env(fake).items():
        monkeypatch.setenv(name, value)
    started = run_cli("start", "--port", str(free_port))
    assert started.returncode == 0, started.stderr
    assert run_cli("mode").stdout.strip() == "shadow"
    assert run_cli("mode", "live").stdout.strip() == "live"
    health = httpx.get(f"http://127.0.0.1:{free_port}/health", timeout=5).json()
    assert health["mode"] == "live"

    key, _ = load_or_create_gateway_key(stopped_daemon, dict(os.environ))
    body = {"model": "claude-opus-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(3):
        r = httpx.post(
            f"http://127.0.0.1:{free_port}/v1/messages",
            json=body,
            headers={"x-api-key": key},
            timeout=10,
        )
        assert r.status_code == 200
    deadline = time.monotonic() + 10
    data: dict[str, object] = {}
    while time.monotonic() < deadline:
        out = run_cli("stats", "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        if data["today"]["totals"]["requests"] == 3:  # type: ignore[index]
            break
        time.sleep(0.2)
    assert data["today"]["totals"]["cache_read_tokens"] == 1200  # type: ignore[index]
    text = run_cli("stats").stdout
    assert "mode: live" in text and "claude-opus-5-5" in text and "cache read" in text
