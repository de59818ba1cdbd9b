"""Daemon lifecycle with real processes: start, identity, stale pidfiles, ports, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.lifecycle import (
    DaemonInfo,
    PortInUse,
    check_port_free,
    find_daemon,
    health,
    port_holder,
    start_background,
    write_pidfile,
)
from stackbilt_gateway.daemon.control.paths import Paths


@pytest.fixture
def foreign_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait(10)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock, sock.getsockname()[1]
    sock.close()


def _info(pid: int, port: int = 1) -> DaemonInfo:
    return DaemonInfo(pid=pid, port=port, host="127.0.0.1", started_at=time.time(), version="0")


# --- pidfile and identity (no daemon needed) -----------------------------------------------------


def test_pidfile_round_trip_is_json(paths: Paths) -> None:
    write_pidfile(paths, _info(os.getpid(), 8787))
    raw = json.loads(paths.pidfile.read_text())
    assert set(raw) == {"pid", "port", "host", "started_at", "version"}
    assert lifecycle.read_pidfile(paths) == DaemonInfo(**raw)


def test_stale_pidfile_of_dead_process_is_removed(paths: Paths) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    write_pidfile(paths, _info(proc.pid))
    assert find_daemon(paths) is None
    assert not paths.pidfile.exists()


def test_pidfile_of_foreign_live_process_is_removed_and_process_untouched(
    paths: Paths, foreign_sleeper: subprocess.Popen[bytes]
) -> None:
    write_pidfile(paths, _info(foreign_sleeper.pid))
    assert find_daemon(paths) is None
    assert not paths.pidfile.exists()
    write_pidfile(paths, _info(foreign_sleeper.pid))
    assert lifecycle.stop(paths, timeout=2) is False  # nothing of ours to stop
    assert foreign_sleeper.poll() is None  # never signalled
    assert psutil.Process(foreign_sleeper.pid).status() != psutil.STATUS_ZOMBIE


def test_garbage_pidfile_is_removed(paths: Paths) -> None:
    paths.state_dir.mkdir(parents=True)
    paths.pidfile.write_text("not json")
    assert find_daemon(paths) is None
    assert not paths.pidfile.exists()


def test_pid_reuse_is_not_mistaken_for_the_daemon(paths: Paths) -> None:
    # A process whose cmdline looks like the daemon but that started after the pidfile was
    # written (the pid was reused) is not our daemon.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "stackbilt_gateway.daemon"])
    try:
        info = DaemonInfo(proc.pid, 1, "127.0.0.1", time.time() - 3600, "0")
        write_pidfile(paths, info)
        assert find_daemon(paths) is None
        write_pidfile(paths, DaemonInfo(proc.pid, 1, "127.0.0.1", time.time(), "0"))
        assert find_daemon(paths) is not None  # same process, plausible start time: ours
    finally:
        proc.kill()
        proc.wait(10)


# --- ports ----------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_port_holder_names_the_listening_process(listener: tuple[socket.socket, int]) -> None:
    _, port = listener
    holder = port_holder("127.0.0.1", port)
    assert holder is not None and holder.startswith(f"pid {os.getpid()} (")
    with pytest.raises(PortInUse) as err:
        check_port_free("127.0.0.1", port)
    assert f"port {port} on 127.0.0.1 is in use by pid {os.getpid()}" in str(err.value)
    assert "--port" in str(err.value)


@pytest.mark.e2e
def test_free_port_passes(free_port: int) -> None:
    check_port_free("127.0.0.1", free_port)
    assert port_holder("127.0.0.1", free_port) is None


@pytest.mark.e2e
def test_health_of_nothing_is_none(free_port: int) -> None:
    assert health("127.0.0.1", free_port, timeout=1.0) is None


# --- a real daemon (needs http.app.create_app) ------------------------------------------------------


@pytest.mark.e2e
def test_start_health_second_start_status_stop(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    config = load_config(cli={"port": free_port})
    info = start_background(config, paths, timeout=30)
    assert info.port == free_port and psutil.pid_exists(info.pid)
    assert "stackbilt_gateway.daemon" in psutil.Process(info.pid).cmdline()
    body = health("127.0.0.1", free_port)
    assert body is not None and body.get("status") == "ok"
    assert find_daemon(paths) == info
    assert paths.gateway_key_file.exists()

    with pytest.raises(PortInUse) as err:  # a second start on the same port is refused
        start_background(config, paths, timeout=30)
    assert f"pid {info.pid}" in str(err.value)

    assert lifecycle.stop(paths, timeout=30) is True
    assert not paths.pidfile.exists()
    assert not psutil.pid_exists(info.pid) or psutil.Process(info.pid).status() == psutil.STATUS_ZOMBIE
    assert health("127.0.0.1", free_port, timeout=1.0) is None
    assert lifecycle.stop(paths) is False


@pytest.mark.e2e
def test_second_daemon_process_refuses_to_run(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    info = start_background(load_config(cli={"port": free_port}), paths, timeout=30)
    other = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackbilt_gateway.daemon",
            "--port",
            str(free_port + 1 if free_port < 65535 else 1025),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert other.returncode == 4, other.stderr
    assert f"already running (pid {info.pid}" in other.stderr
    assert find_daemon(paths) == info  # the running daemon's pidfile is intact


@pytest.mark.e2e
def test_daemon_on_taken_port_exits_3(paths: Paths, listener: tuple[socket.socket, int]) -> None:
    _, port = listener
    proc = subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 3
    assert f"pid {os.getpid()}" in proc.stderr
    assert not paths.pidfile.exists()


@pytest.mark.e2e
def test_sigterm_exits_0_and_removes_pidfile(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    info = start_background(load_config(cli={"port": free_port}), paths, timeout=30)
    proc = psutil.Process(info.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not paths.pidfile.exists()
    assert "SIGTERM received" in paths.log_file.read_text()


@pytest.mark.e2e
def test_sigint_exits_0(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    info = start_background(load_config(cli={"port": free_port}), paths, timeout=30)
    proc = psutil.Process(info.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert not paths.pidfile.exists()


@pytest.mark.e2e
def test_failed_start_reports_log_tail(paths: Paths, free_port: int) -> None:
    config = load_config(cli={"port": free_port})
    paths.ensure()
    paths.user_config_file.write_text('{"port": "bad"}')  # broken after the parent read it
    with pytest.raises(lifecycle.DaemonStartFailed) as err:
        start_background(config, paths, timeout=30)
    assert "exited with code 2" in str(err.value)
    assert '"port": expected an integer 1-65535' in str(err.value)
