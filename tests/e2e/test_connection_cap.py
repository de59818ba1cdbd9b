"""The cap on open client connections and the ``accept()`` back-off, on a real daemon process.

The daemon runs under a 256-descriptor limit. More connections than descriptors are opened and
held: ``accept()`` fails for want of descriptors, and the daemon backs off instead of spinning —
its CPU stays far below a busy loop, its log grows by a few lines (one per back-off episode), and
once the connections close a normal request is answered. With ``max_connections`` under the
limit, the connections past the cap get a 503 (a JSON error an SDK reads) and are closed at once;
a normal request is answered again once the held connections close.
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

from tests.daemon_process import DaemonProcess, daemon_process

pytestmark = pytest.mark.e2e

FD_LIMIT = 256
BUSY_CPU_PERCENT = 25.0  # a tight accept() loop burns most of a core (72 % measured)


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def _start(tmp_path: Path, config: dict[str, object]) -> Iterator[DaemonProcess]:
    env = {"STACKBILT_GATEWAY_KEY": "sgw-connection-cap-test-key"}
    with daemon_process(tmp_path, env, config=config, preexec_fn=_limit_fds) as daemon:
        yield daemon


@pytest.fixture
def uncapped(tmp_path: Path) -> Iterator[DaemonProcess]:
    """The default ``max_connections`` (512): above the descriptor limit."""
    yield from _start(tmp_path, {})


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[DaemonProcess]:
    yield from _start(tmp_path, {"max_connections": 100})


def _open(port: int, count: int) -> list[socket.socket]:
    """``count`` connections begun without waiting (those past the backlog may never complete)."""
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def _close(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def _answered(daemon: DaemonProcess, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        try:
            r = httpx.get(daemon.url + "/health", timeout=2)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the daemon did not answer a normal request"
        time.sleep(0.2)


def test_accept_out_of_descriptors_backs_off_and_recovers(uncapped: DaemonProcess) -> None:
    daemon = uncapped
    assert daemon.proc.rlimit(psutil.RLIMIT_NOFILE) == (FD_LIMIT, FD_LIMIT)
    log_before = daemon.log.stat().st_size
    socks = _open(daemon.port, 2 * FD_LIMIT)
    try:
        time.sleep(1.0)  # the daemon accepts until its descriptors run out
        assert daemon.proc.num_fds() >= FD_LIMIT - 16, "the descriptors did not run out"
        cpu = daemon.proc.cpu_percent(interval=None)
        cpu = daemon.proc.cpu_percent(interval=3.0)
        assert cpu < BUSY_CPU_PERCENT, f"{cpu:.0f} % CPU while accept() fails"
    finally:
        _close(socks)
    r = _answered(daemon, within=15)
    assert r.json()["status"] == "ok"
    text = daemon.log.read_text()
    grown = daemon.log.stat().st_size - log_before
    assert grown < 64 * 1024, f"the log grew by {grown} bytes"
    failures = text.count("accept() failed")
    assert 1 <= failures <= 3, text[-3000:]  # once per back-off episode, not once per failure
    assert "Traceback" not in text
    assert "accept() works again after" in text


def test_connections_past_the_cap_get_a_503_and_are_closed(capped: DaemonProcess) -> None:
    daemon = capped
    time.sleep(0.5)  # the start-up probe's connection is closed
    held = []
    for _ in range(100):
        held.append(socket.create_connection(("127.0.0.1", daemon.port), timeout=5))
    try:
        time.sleep(0.5)
        # Past the cap: an SDK-readable 503, and the connection closed by the daemon.
        r = httpx.get(daemon.url + "/health", timeout=5)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["type"] == "overloaded_error"
        extra = [socket.create_connection(("127.0.0.1", daemon.port), timeout=5) for _ in range(20)]
        for s in extra:
            s.settimeout(5)
            data = b""
            while chunk := s.recv(4096):  # ends: the daemon closes it
                data += chunk
            assert data.startswith(b"HTTP/1.1 503 ") and b'"too_many_connections"' in data
            s.close()
        # The held connections were never refused: each still gets an answer.
        held[0].sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert held[0].recv(4096).startswith(b"HTTP/1.1 200")
        assert daemon.proc.num_fds() < FD_LIMIT - 64
    finally:
        _close(held)
    assert _answered(daemon, within=5).json()["status"] == "ok"
    text = daemon.log.read_text()
    assert text.count("refusing more with 503") == 1  # once per episode, not per refusal
