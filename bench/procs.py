"""Subprocesses under test: spawn, wait for readiness, measure CPU and memory, stop.

Owns the lifecycle of the processes ``bench.run`` starts (the fake upstream, the reference
proxy, the gateway daemon) and reading their CPU time and resident memory with psutil and
``/proc``. Stops only the processes it started, by pid.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .load import get_json

HOST = "127.0.0.1"
PYTHON = sys.executable
MIB = 1024 * 1024


def free_port() -> int:
    """A free loopback port (the tiny race until the child binds it is acceptable here)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    """One started process and what is known about it."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path
    spawned: float  # perf_counter at spawn
    ready_s: float | None = None
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.popen.pid)

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_mib(self) -> float:
        return float(self.ps.memory_info().rss) / MIB

    def peak_rss_mib(self) -> float:
        """The process's resident high-water mark (``VmHWM``), or current RSS elsewhere."""
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return self.rss_mib()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn_announcing(name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Child:
    """Start a child that prints ``READY <port>`` on stdout once listening; wait up to 15 s."""
    with log.open("wb") as err:
        started = time.perf_counter()
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
    assert popen.stdout is not None
    ready = select.select([popen.stdout], [], [], 15.0)[0]
    line = popen.stdout.readline() if ready else b""
    if not line.startswith(b"READY "):
        popen.kill()
        popen.wait(5)
        raise RuntimeError(f"{name} did not start: {line!r} {log.read_text(errors='replace')}")
    return Child(name, popen, int(line.split()[1]), log, started)


def spawn(name: str, argv: list[str], *, port: int, env: dict[str, str], cwd: Path, log: Path) -> Child:
    """Start ``argv`` with stdout+stderr to ``log``."""
    with log.open("ab") as out:
        started = time.perf_counter()
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return Child(name, popen, port, log, started)


async def wait_ready(child: Child, path: str = "/health", limit_s: float = 20.0) -> float:
    """Poll ``GET path`` every 5 ms until 200; returns seconds since spawn."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        if child.popen.poll() is not None:
            raise RuntimeError(f"{child.name} exited with code {child.popen.returncode}:\n{child.log_tail()}")
        try:
            status, _ = await get_json(HOST, child.port, path, limit_s=2.0)
            if status == 200:
                child.ready_s = time.perf_counter() - child.spawned
                return child.ready_s
        except (OSError, TimeoutError, ValueError, IndexError):
            pass
        await asyncio.sleep(0.005)
    raise RuntimeError(f"{child.name} not ready after {limit_s} s:\n{child.log_tail()}")


def stop(child: Child, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL this one child (never anything else)."""
    if child.popen.poll() is not None:
        return
    child.popen.send_signal(signal.SIGTERM)
    try:
        child.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        child.popen.kill()
        child.popen.wait(5)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment minus proxies and provider settings, plus ``extra``."""
    drop = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith("STACKBILT_") and not k.endswith("_API_KEY")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
