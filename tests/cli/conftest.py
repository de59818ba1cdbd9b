"""Fixtures for the CLI / config / keys / lifecycle tests.

- Every test here starts on keyring's ``fail`` backend (no accidental real keyring use).
- ``real_keyring`` switches to a real Secret Service: a session-wide ``gnome-keyring-daemon``
  on the D-Bus session bus that ``tests/run.sh`` provides via ``dbus-run-session``.
- ``free_port`` / ``run_cli`` / ``stopped_daemon`` help the socket- and process-level tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.core
import psutil
import pytest
from jeepney import MessageType
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.paths import Paths, resolve_paths
from stackbilt_gateway.daemon.control.secrets import SERVICE
from stackbilt_gateway.daemon.core.providers import builtin_providers

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
RUN_HINT = "run the suite with `bash tests/run.sh` (it provides a D-Bus session via dbus-run-session)"


@pytest.fixture(autouse=True)
def fail_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start every test on keyring's ``fail`` backend; restore the previous backend afterwards."""
    before = keyring.get_keyring()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()
    yield
    keyring.set_keyring(before)


SECRETS_BUS_NAME = "org.freedesktop.secrets"


def _bus_call(msg: Any) -> Any:
    with open_dbus_connection(bus="SESSION") as conn:
        reply = conn.send_and_get_reply(msg, timeout=10)
    if reply.header.message_type == MessageType.error:
        raise RuntimeError(f"D-Bus error: {reply.body}")
    return reply.body[0] if reply.body else None


def _secrets_owner_pid() -> int | None:
    """The pid owning the Secret Service bus name, or None (never triggers D-Bus activation)."""
    if not _bus_call(message_bus.NameHasOwner(SECRETS_BUS_NAME)):
        return None
    return int(_bus_call(message_bus.GetConnectionUnixProcessID(SECRETS_BUS_NAME)))


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real, unlocked Secret Service (gnome-keyring) on the session bus for this test session."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail(f"DBUS_SESSION_BUS_ADDRESS is not set: {RUN_HINT}")
    exe = shutil.which("gnome-keyring-daemon")
    if exe is None:
        pytest.fail(f"gnome-keyring-daemon is not installed (apt install gnome-keyring); {RUN_HINT}")
    home = tmp_path_factory.mktemp("keyring-home")
    dirs = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    (home / "run").mkdir(mode=0o700)
    # Anything D-Bus auto-activates from now on (a keyring asked for before ours owns the name)
    # must not touch the real home directory.
    _bus_call(message_bus.UpdateActivationEnvironment(dirs))
    owner = _secrets_owner_pid()
    started = owner is None
    if started:
        subprocess.run(
            [exe, "--unlock", "--components=secrets", "--daemonize"],
            input=b"test",
            env={**os.environ, **dirs},
            capture_output=True,
            timeout=30,
            check=True,
        )
        deadline = time.monotonic() + 20
        while (owner := _secrets_owner_pid()) is None:
            if time.monotonic() > deadline:
                pytest.fail("gnome-keyring-daemon started but never took the Secret Service bus name")
            time.sleep(0.05)
    proc = psutil.Process(owner)
    yield
    if started and proc.is_running() and proc.environ().get("HOME") == str(home):
        proc.terminate()
        try:
            proc.wait(5)
        except psutil.TimeoutExpired:
            proc.kill()


def _clear_entries() -> None:
    for name in builtin_providers():
        try:
            keyring.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            pass


@pytest.fixture
def real_keyring(
    secret_service: None, fail_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[keyring.backend.KeyringBackend]:
    """The real Secret Service backend, with no gateway entries before or after the test."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", SECRET_SERVICE_BACKEND)
    keyring.core.init_backend()
    _clear_entries()
    yield keyring.get_keyring()
    _clear_entries()


@pytest.fixture
def paths(isolated_home: Path) -> Paths:
    return resolve_paths(dict(os.environ))


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_cli(*args: str, timeout: float = 60.0, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m stackbilt_gateway.daemon.cli ARGS`` in a subprocess with this test's env."""
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


@pytest.fixture
def stopped_daemon(paths: Paths) -> Iterator[Paths]:
    """Make sure no daemon started by the test outlives it."""
    yield paths
    lifecycle.stop(paths, timeout=10)
