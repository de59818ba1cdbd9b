"""Fixtures for the desktop tests: tray/launcher/installer units and the headless desktop e2e.

- Every test gets its own free gateway port (``STACKBILT_GATEWAY_PORT``) and keyring's ``fail``
  backend (subprocesses inherit it) unless it asks for ``real_keyring``.
- ``gw_paths`` stops any daemon a test started.
- ``xdisplay`` starts Xvfb on a free display number plus ``trayer`` as the tray host, with bounded
  waits; it fails (never skips) when they are missing, naming ``.ci/run``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.paths import Paths, resolve_paths
from tests.cli.conftest import fail_keyring, real_keyring, secret_service

__all__ = ["fail_keyring", "real_keyring", "secret_service"]

CI_HINT = "run `bash .ci/run` (it installs xvfb, trayer, xdotool, WebKitGTK and the other desktop packages)"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(autouse=True)
def gateway_port(monkeypatch: pytest.MonkeyPatch, fail_keyring: None) -> int:
    port = free_tcp_port()
    monkeypatch.setenv("STACKBILT_GATEWAY_PORT", str(port))
    monkeypatch.setenv("NO_AT_BRIDGE", "1")  # no accessibility bus activation noise
    return port


@pytest.fixture
def gw_paths(isolated_home: Path) -> Iterator[Paths]:
    paths = resolve_paths(dict(os.environ))
    yield paths
    lifecycle.stop(paths, timeout=10)


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``predicate()`` until truthy; fail naming ``what`` after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


@dataclass(frozen=True)
class XDisplay:
    name: str
    trayer: subprocess.Popen[bytes]


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    pytest.fail("no free X display number between :90 and :199")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


TRAYER_ARGS = (
    *("trayer", "--edge", "top", "--align", "left", "--widthtype", "pixel", "--width", "120"),
    *("--heighttype", "pixel", "--height", "32", "--expand", "false", "--SetDockType", "true"),
)


def _start_trayer(env: dict[str, str], display: str, attempts: int = 3) -> subprocess.Popen[bytes]:
    """Start the tray host and wait for its panel window; a trayer that dies is restarted."""
    errors: list[str] = []
    for _ in range(attempts):
        log = tempfile.TemporaryFile()
        trayer = subprocess.Popen(TRAYER_ARGS, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and trayer.poll() is None:
            if trayer_window(display) is not None:
                log.close()
                return trayer
            time.sleep(0.1)
        _stop(trayer)
        log.seek(0)
        errors.append(f"exit {trayer.returncode}: {log.read(2000).decode('utf-8', 'replace').strip()}")
        log.close()
    pytest.fail(f"the trayer panel window never appeared on {display}: {' | '.join(errors)}")


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[XDisplay]:
    """A headless X server with a tray host (trayer) on it."""
    for tool in ("Xvfb", "xdpyinfo", "trayer", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: {CI_HINT}")
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run the suite with `bash tests/run.sh` (dbus-run-session)")
    n = _free_display()
    name = f":{n}"
    xvfb = subprocess.Popen(
        ["Xvfb", name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "DISPLAY": name}
    try:
        wait_for(
            lambda: (
                xvfb.poll() is not None
                or subprocess.run(["xdpyinfo"], env=env, capture_output=True, timeout=5).returncode == 0
            ),
            15,
            "Xvfb to accept connections",
        )
        if xvfb.poll() is not None:
            pytest.fail(f"Xvfb {name} exited with code {xvfb.returncode}")
        trayer = _start_trayer(env, name)
        try:
            yield XDisplay(name, trayer)
        finally:
            _stop(trayer)
    finally:
        _stop(xvfb)


def xdotool(display: str, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def trayer_window(display: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the trayer panel, or None."""
    out = xdotool(display, "search", "--onlyvisible", "--class", "trayer")
    for wid in out.stdout.split():
        geo = xdotool(display, "getwindowgeometry", "--shell", wid).stdout
        values = dict(line.split("=", 1) for line in geo.splitlines() if "=" in line)
        try:
            w, h = int(values["WIDTH"]), int(values["HEIGHT"])
            if w >= 30 and h >= 20:
                return int(values["X"]), int(values["Y"]), w, h
        except (KeyError, ValueError):
            continue
    return None
