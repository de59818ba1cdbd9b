"""Streams still running when the daemon's graceful shutdown runs out are cut — and recorded, each
with its own status (503, cut at shutdown), not lost and not mistaken for a client hanging up.

The daemon runs as its own process with ``graceful_timeout: 1``; five slow streams are in flight
when it receives SIGTERM.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.threaded import free_port
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

KEY = "sgw-shutdown-test-gateway-key-0123"
STREAMS = 5


def test_streams_cut_at_shutdown_are_recorded(tmp_path: Path) -> None:
    fake = FakeUpstream().start()
    port = free_port()
    home, cwd = tmp_path / "home", tmp_path / "daemon-cwd"
    cwd.mkdir()
    (cwd / "gateway.config.json").write_text(json.dumps({"graceful_timeout": 1}))
    env = {
        **os.environ,
        "STACKBILT_GATEWAY_HOME": str(home),
        "STACKBILT_GATEWAY_KEY": KEY,
        "STACKBILT_ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "sk-ant-shutdown-test-provider-key",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackbilt_gateway.daemon", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    outcomes: list[str] = []

    def stream() -> None:
        body = {
            "model": "claude-opus-5-5",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "SLOW " + "word " * 40}],  # ~0.3 s per delta
        }
        try:
            with httpx.stream(
                "POST", f"{url}/v1/messages", json=body, headers={"x-api-key": KEY}, timeout=30
            ) as r:
                for _ in r.iter_bytes():
                    pass
            outcomes.append("complete")
        except httpx.HTTPError:
            outcomes.append("cut")

    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        clients = [threading.Thread(target=stream) for _ in range(STREAMS)]
        for c in clients:
            c.start()
        while len(fake.requests) < STREAMS and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        for c in clients:
            c.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        fake.stop()
    assert outcomes == ["cut"] * STREAMS
    db = next(home.rglob("telemetry.sqlite"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, http_status, error_message FROM events").fetchall()
    assert len(rows) == STREAMS, (tmp_path / "daemon.log").read_text()
    for status, http_status, message in rows:
        assert (status, http_status) == ("error", 503) and "cut at shutdown" in message
