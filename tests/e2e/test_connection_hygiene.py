"""Connection hygiene: a client that hangs up gives its socket back at once, so a burst of short
connections cannot exhaust the daemon's file descriptors (a common limit is 1 024).

The daemon runs as its own process under ``ulimit -n 1024``; 5 000 connections are opened and
closed (half of them after one request, half idle), then a normal request must be answered and
the daemon's descriptors must be back near their idle count.
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.daemon_process import daemon_process

pytestmark = pytest.mark.e2e

FD_LIMIT = 1024
CONNECTIONS = 5000


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[int, psutil.Process]]:
    env = {"STACKBILT_GATEWAY_KEY": "sgw-connection-hygiene-test-key"}
    with daemon_process(tmp_path, env, preexec_fn=_limit_fds) as daemon:
        yield daemon.port, daemon.proc


def test_short_connections_do_not_exhaust_descriptors(daemon: tuple[int, psutil.Process]) -> None:
    port, proc = daemon
    assert proc.rlimit(psutil.RLIMIT_NOFILE) == (FD_LIMIT, FD_LIMIT)
    idle_fds = proc.num_fds()
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    started = time.monotonic()
    for i in range(CONNECTIONS):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if i % 2 == 0:
                s.sendall(request)
                assert s.recv(4096).startswith(b"HTTP/1.1 200")
        if time.monotonic() - started > 60:  # bounded in time as well as in count
            break
    # A normal request is answered, and the descriptors came back.
    r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    deadline = time.monotonic() + 5
    while proc.num_fds() > idle_fds + 16 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.num_fds() <= idle_fds + 16, f"{proc.num_fds()} descriptors open (idle: {idle_fds})"
