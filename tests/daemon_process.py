"""A real daemon process of a test's own: ``python -m stackbilt_gateway.daemon`` on a free
loopback port, with its home (and optionally its config file) under the test's temp dir, keys
from the environment only, its output in ``<tmp>/daemon.log``; ready once ``/health`` answers,
terminated at the end. For the tests whose subject is the process itself (descriptor limits,
its log, load from outside its GIL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from stackbilt_gateway.daemon.control.paths import HOME_ENV, resolve_paths
from stackbilt_gateway.daemon.simulator.threaded import free_port

READY_SECONDS = 30.0


@dataclass(frozen=True)
class DaemonProcess:
    port: int
    proc: psutil.Process
    log: Path
    home: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def daemon_process(
    tmp_path: Path,
    env: Mapping[str, str],
    *,
    config: Mapping[str, Any] | None = None,
    base_env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[DaemonProcess]:
    """The daemon with ``env`` laid over ``base_env`` (default: this process's environment)."""
    home = tmp_path / "home"
    if config is not None:
        user_config = resolve_paths({HOME_ENV: str(home)}).user_config_file
        user_config.parent.mkdir(parents=True, exist_ok=True)
        user_config.write_text(json.dumps(config))
    full_env = {
        **(os.environ if base_env is None else base_env),
        HOME_ENV: str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        **env,
    }
    port = free_port()
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackbilt_gateway.daemon", "--port", str(port), "--host", "127.0.0.1"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    try:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(log_path.read_text(errors="replace")[-2000:])
        yield DaemonProcess(port, psutil.Process(proc.pid), log_path, home)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
