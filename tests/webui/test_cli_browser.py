"""``stackbilt-gw dashboard --browser``: asks the running daemon for a one-time link with the
gateway key, prints it and hands it to the web browser (``$BROWSER``, recorded here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.paths import resolve_paths

pytestmark = pytest.mark.e2e


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    # No keyring in this test: the daemon and the CLI read keys from the environment only.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    yield free
    lifecycle.stop(resolve_paths(dict(os.environ)), timeout=10)


def test_without_a_daemon_it_says_how_to_start_one(port: int) -> None:
    done = run_cli("dashboard", "--browser")
    assert done.returncode == 1 and "stackbilt-gw start" in done.stderr


def test_prints_and_opens_a_one_time_link(port: int, tmp_path: Path) -> None:
    assert run_cli("start", "--port", str(port)).returncode == 0
    opened = tmp_path / "opened.txt"
    recorder = f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\" %s"
    done = run_cli("dashboard", "--browser", env={**os.environ, "BROWSER": recorder})
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(f"http://127.0.0.1:{port}/ui/?token=")
    assert "works once" in done.stderr
    assert opened.read_text() == url
    with httpx.Client(trust_env=False, timeout=10) as client:
        assert client.get(url, follow_redirects=False).status_code == 303
        assert client.get(f"http://127.0.0.1:{port}/ui/").status_code == 200
