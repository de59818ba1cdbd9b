"""Daemon process management: pidfile, finding, starting, stopping and probing the daemon.

Owns the pidfile format, the identity check that keeps us from ever signalling a foreign
process, port-ownership diagnostics (which process holds a port), the listening socket the daemon
binds, and launching the daemon's own entry point (``python -m stackbilt_gateway.daemon``) in the
background (start/stop with psutil) or in the foreground (``run_foreground``): client processes
never host the daemon themselves. Does not own what the daemon serves (``server``/``http``) nor
any CLI wording beyond exception messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from ..core.config import Config
from .paths import Paths

DAEMON_MODULE = "stackbilt_gateway.daemon"
_SCRIPT_NAMES = ("stackbilt-gw", "stackbilt-llm-gateway")
# Popen objects of daemons started here, kept so they are not garbage-collected (and warned
# about) while the daemon runs; the daemon outlives this process by design.
_STARTED: list[subprocess.Popen[bytes]] = []


class PortInUse(Exception):
    """The daemon's port is taken by another process; the message names it when it can."""


class DaemonStartFailed(Exception):
    """The background daemon exited or never answered /health; the message has the log tail."""


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    pid: int
    port: int
    host: str
    started_at: float
    version: str

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"


def url_host(host: str) -> str:
    """A host as it appears in a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def connect_host(host: str) -> str:
    """Where a client should connect to reach a daemon bound to ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


# --- pidfile -----------------------------------------------------------------------------------


def write_pidfile(paths: Paths, info: DaemonInfo) -> None:
    """Write the pidfile atomically (temp file + rename)."""
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = paths.pidfile.with_name(f".{paths.pidfile.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    os.replace(tmp, paths.pidfile)


def read_pidfile(paths: Paths) -> DaemonInfo | None:
    """The pidfile's content, or None when it is missing or unreadable."""
    try:
        raw = json.loads(paths.pidfile.read_text(encoding="utf-8"))
        return DaemonInfo(
            pid=int(raw["pid"]),
            port=int(raw["port"]),
            host=str(raw["host"]),
            started_at=float(raw.get("started_at", 0.0)),
            version=str(raw.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_pidfile(paths: Paths, *, pid: int | None = None) -> None:
    """Remove the pidfile; with ``pid``, only when it still names that process."""
    if pid is not None:
        info = read_pidfile(paths)
        if info is not None and info.pid != pid:
            return
    paths.pidfile.unlink(missing_ok=True)


def is_gateway_process(proc: psutil.Process) -> bool:
    """True when ``proc``'s command line is this gateway (never judged by ``name()``)."""
    try:
        cmdline = proc.cmdline()
    except (psutil.Error, OSError):
        return False
    for arg in cmdline:
        base = os.path.basename(arg).removesuffix(".exe")
        if DAEMON_MODULE in arg or base in _SCRIPT_NAMES:
            return True
    return False


def find_daemon(paths: Paths) -> DaemonInfo | None:
    """The running daemon per the pidfile, or None; removes a stale pidfile (signals nothing)."""
    if not paths.pidfile.exists():
        return None
    info = read_pidfile(paths)
    if info is not None and info.pid > 0 and psutil.pid_exists(info.pid):
        try:
            proc = psutil.Process(info.pid)
            if is_gateway_process(proc) and proc.create_time() <= info.started_at + 5.0:
                return info
        except psutil.Error:
            pass
    paths.pidfile.unlink(missing_ok=True)
    return None


# --- ports -------------------------------------------------------------------------------------


def _describe_process(pid: int) -> str:
    try:
        cmd = " ".join(psutil.Process(pid).cmdline())
    except (psutil.Error, OSError):
        return f"pid {pid}"
    cmd = cmd if len(cmd) <= 120 else cmd[:117] + "..."
    return f"pid {pid} ({cmd})" if cmd else f"pid {pid}"


def port_holder(host: str, port: int) -> str | None:
    """Which process listens on ``host:port`` (e.g. "pid 1234 (python3 -m http.server 8787)")."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError, OSError):
        return None
    wildcard = {"0.0.0.0", "::", ""}
    for conn in conns:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        ip = conn.laddr.ip
        if host in wildcard or ip in wildcard or ip == host or host == "localhost":
            return _describe_process(conn.pid) if conn.pid else None
    return None


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind (not yet listen) a TCP socket for the daemon; raise ``PortInUse`` naming the holder."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot resolve listen address {host!r}: {exc}") from None
    family, type_, proto, _, addr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        holder = port_holder(host, port)
        who = f"by {holder}" if holder else "by another process"
        raise PortInUse(
            f"port {port} on {host} is in use {who} ({exc.strerror or exc}); stop it or choose "
            "another port with --port or STACKBILT_GATEWAY_PORT"
        ) from None
    return sock


def check_port_free(host: str, port: int) -> None:
    """Raise ``PortInUse`` unless ``host:port`` can be bound right now."""
    bind_socket(host, port).close()


# --- probing, starting, stopping ---------------------------------------------------------------

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def health(host: str, port: int, *, timeout: float = 2.0) -> dict[str, Any] | None:
    """The daemon's /health JSON, or None when nothing (healthy) answers."""
    url = f"http://{url_host(connect_host(host))}:{port}/health"
    try:
        with _NO_PROXY.open(url, timeout=timeout) as resp:
            data = json.loads(resp.read(1 << 20))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' when missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def daemon_argv(config: Config) -> list[str]:
    """The command line of a daemon listening where ``config`` says."""
    return [sys.executable, "-m", DAEMON_MODULE, "--port", str(config.port), "--host", config.host]


def run_foreground(config: Config, env: Mapping[str, str]) -> int:
    """Run the daemon in this terminal until it exits; its exit code.

    On POSIX this process becomes the daemon (``exec``: same pid, same terminal, the daemon's own
    SIGINT/SIGTERM handling). On Windows, where exec does not replace a console process, the daemon
    is a child sharing the console: Ctrl-C reaches it too, and this process waits for its graceful
    shutdown.
    """
    argv = daemon_argv(config)
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":
        return _run_child(argv, env)
    os.execve(argv[0], argv, dict(env))


def _run_child(argv: list[str], env: Mapping[str, str]) -> int:
    """Run ``argv`` in this console and wait for it, through the Ctrl-C it also receives."""
    proc = subprocess.Popen(argv, env=dict(env))
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the child got the same Ctrl-C and is shutting down gracefully
            continue


def start_background(config: Config, paths: Paths, *, timeout: float = 15.0) -> DaemonInfo:
    """Launch ``python -m stackbilt_gateway.daemon`` detached and wait until /health answers."""
    paths.ensure()
    check_port_free(config.host, config.port)
    argv = daemon_argv(config)
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        kwargs["start_new_session"] = True
    with paths.log_file.open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, **kwargs)
    _STARTED.append(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise DaemonStartFailed(
                f"the daemon exited with code {code} during start-up; last lines of "
                f"{paths.log_file}:\n{log_tail(paths.log_file)}"
            )
        info = read_pidfile(paths)
        if info is not None and info.pid == proc.pid and health(config.host, config.port, timeout=1.0):
            return info
        time.sleep(0.1)
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    raise DaemonStartFailed(
        f"the daemon did not answer http://{url_host(connect_host(config.host))}:{config.port}/health "
        f"within {timeout:g} s; last lines of {paths.log_file}:\n{log_tail(paths.log_file)}"
    )


def stop(paths: Paths, *, timeout: float = 30.0) -> bool:
    """Stop the running daemon (terminate, wait, then kill); False when none was running."""
    info = find_daemon(paths)
    if info is None:
        return False
    try:
        proc = psutil.Process(info.pid)
        proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    except psutil.NoSuchProcess:
        pass
    remove_pidfile(paths, pid=info.pid)
    _reap_started()
    return True


def _reap_started() -> None:
    """Forget daemons started here that have exited (their Popen would warn at exit)."""
    for started in list(_STARTED):
        if started.poll() is not None:
            _STARTED.remove(started)
