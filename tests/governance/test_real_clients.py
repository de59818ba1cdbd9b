"""The real Claude Code and the real Codex, each on a named client with a low RPM limit: they hit
the limit, get their protocol's 429 with ``retry-after``, retry by themselves and complete; the
fake upstream never saw the refused attempts."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import ROOT, run_claude, run_codex
from tests.e2e.conftest import wait_events
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread
from tests.governance.conftest import Start, new_client

pytestmark = pytest.mark.e2e

# One request every 2 s: retry-after is 1-2 s. Codex starts slower than Claude Code on a busy
# machine: one request every 3 s keeps its first turns inside the window of the drained slot.
RPM = 30
CODEX_RPM = 20


def _drain(gw: GatewayThread, key: str) -> None:
    """Use the client's one slot so the client's first request is refused."""
    r = httpx.post(
        f"{gw.url}/v1/messages",
        json={"model": "claude-opus-5-5", "max_tokens": 16, "messages": [{"role": "user", "content": "x"}]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 200


def _all_events(gw: GatewayThread) -> list[dict[str, object]]:
    r = httpx.get(f"{gw.url}/events/recent", params={"limit": 500}, headers={"x-api-key": GATEWAY_KEY})
    return list(r.json()["events"])


def _check(gw: GatewayThread, upstream: FakeUpstream, client: str, path: str) -> None:
    events = [e for e in _all_events(gw) if e["client_id"] == client]
    refused = [e for e in events if e["status"] == "refused"]
    served = [e for e in events if e["status"] == "ok"]
    assert refused, "the client hit its limit at least once"
    assert {e["error_class"] for e in refused} == {"rate_limit.rpm"}
    assert {e["http_status"] for e in refused} == {429}
    # Every upstream call is a served request: the refused attempts never left the gateway.
    assert len(upstream.calls(path)) == len(served)


def test_claude_code_retries_a_client_rate_limit_and_completes(
    start_gateway: Start, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gw = start_gateway()
    key = new_client("claude-dev", rpm=RPM)
    _drain(gw, key)
    work = tmp_path / "work"
    work.mkdir()
    run = run_claude(
        "RUN_BASH: echo limited_MARKER_$((6*7))",
        base_url=gw.url,
        home=tmp_path / "home",
        cwd=work,
        model="claude-opus-5-5",
        env={"ANTHROPIC_API_KEY": key},
        args=["--allowedTools", "Bash"],
        timeout=150,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "limited_MARKER_42" in run.json()["result"]
    wait_events(gw, 3)
    _check(gw, upstream, "claude-dev", "/v1/messages")


@pytest.fixture
def codex_home() -> Iterator[Path]:
    root = ROOT / ".cache" / "codex-e2e" / uuid.uuid4().hex[:12]
    (root / "work").mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_codex_retries_a_client_rate_limit_and_completes(
    start_gateway: Start, upstream: FakeUpstream, codex_home: Path
) -> None:
    gw = start_gateway()
    key = new_client("codex-dev", rpm=CODEX_RPM)
    _drain(gw, key)
    upstream.reset()
    run = run_codex(
        "RUN_SHELL: echo codex_limited_$((6*7))",
        base_url=gw.url,
        home=codex_home,
        cwd=codex_home / "work",
        model="gpt-5.5",
        gateway_key=key,
        retries=6,
        timeout=150,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "codex_limited_42" in run.last_message
    wait_events(gw, 3)
    events = [e for e in _all_events(gw) if e["client_id"] == "codex-dev" and e["protocol"] == "responses"]
    refused = [e for e in events if e["status"] == "refused"]
    assert refused and {e["error_class"] for e in refused} == {"rate_limit.rpm"}
    assert len(upstream.calls("/v1/responses")) == len([e for e in events if e["status"] == "ok"])
