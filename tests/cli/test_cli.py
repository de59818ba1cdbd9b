"""``stackbilt-gw``: argument errors and messages in-process; start/stop/status/logs for real."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest

from stackbilt_gateway.daemon.cli import main
from stackbilt_gateway.daemon.control.gatewaykey import load_or_create_gateway_key
from stackbilt_gateway.daemon.control.lifecycle import find_daemon, health
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.control.secrets import SERVICE

from .conftest import run_cli

CONSOLE_SCRIPT = Path(sys.executable).parent / "stackbilt-gw"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdin", buf)
    yield buf


# --- arguments and messages -----------------------------------------------------------------------


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
    )
    assert code == 2
    assert "usage: stackbilt-gw" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("stackbilt-gw ")


def test_bad_port_flag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "start", "--port", "abc")
    assert code == 2
    assert err == 'stackbilt-gw: configuration error: --port: expected an integer 1-65535, got "abc"\n'
    assert out == ""


def test_broken_config_file_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    Path("gateway.config.json").write_text('{"port": 9000,,}')
    code, _, err = run(capsys, "start")
    assert code == 2
    assert err.startswith("stackbilt-gw: configuration error: gateway.config.json: invalid JSON at line 1")
    assert "Traceback" not in err and err.count("\n") == 1


def test_status_reports_config_errors_without_failing(capsys: pytest.CaptureFixture[str]) -> None:
    Path("gateway.config.json").write_text('{"prot": 1}')
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert 'config: ERROR gateway.config.json: "prot" is not a known setting (did you mean "port"?)' in out


def test_stop_when_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stop")
    assert (code, out) == (0, "the gateway is not running\n")


def test_status_when_stopped_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-very-secret")
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["running"] is False
    assert report["provider_keys"]["groq"] == "env (GROQ_API_KEY)"
    assert report["provider_keys"]["cerebras"] == "not set"
    assert report["gateway_key"].startswith("not created yet")
    assert "gsk-very-secret" not in out


def test_key_prints_key_on_stdout_and_source_on_stderr(
    capsys: pytest.CaptureFixture[str], paths: Paths
) -> None:
    code, out, err = run(capsys, "key")
    assert code == 0
    key = out.strip()
    assert key.startswith("sgw-") and out.count("\n") == 1
    assert str(paths.gateway_key_file) in err
    assert run(capsys, "key")[1].strip() == key


def test_logs_missing_file(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    code, _, err = run(capsys, "logs")
    assert code == 1
    assert f"no daemon log yet at {paths.log_file}" in err


def test_logs_tail(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    paths.ensure()
    paths.log_file.write_text("".join(f"line {i}\n" for i in range(1, 201)))
    code, out, _ = run(capsys, "logs", "-n", "3")
    assert (code, out) == (0, "line 198\nline 199\nline 200\n")
    assert run(capsys, "logs")[1].splitlines()[0] == "line 151"  # default 50


def test_start_on_taken_port_names_the_holder(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code, _, err = run(capsys, "start", "--port", str(port))
    assert code == 3
    assert f"port {port} on 127.0.0.1 is in use by pid {os.getpid()}" in err


# --- keys ------------------------------------------------------------------------------------------


def test_keys_unknown_provider_lists_known(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "keys", "set", "grok")
    assert code == 2
    assert "unknown provider 'grok'; known providers: anthropic, cerebras" in err


def test_keys_set_without_secure_keyring_names_the_fix(
    capsys: pytest.CaptureFixture[str], stdin: io.StringIO
) -> None:
    stdin.write("gsk-x\n")
    stdin.seek(0)
    code, _, err = run(capsys, "keys", "set", "groq", "--value-stdin")
    assert code == 1
    assert "no secure keyring" in err and "GROQ_API_KEY" in err
    assert stdin.read() == "gsk-x\n"  # refused before reading the secret


def test_keys_set_list_delete_with_real_keyring(
    real_keyring: keyring.backend.KeyringBackend, capsys: pytest.CaptureFixture[str], stdin: io.StringIO
) -> None:
    stdin.write("gsk-from-stdin\n")
    stdin.seek(0)
    code, out, _ = run(capsys, "keys", "set", "GROQ", "--value-stdin")
    assert code == 0 and "stored the Groq key in the keyring" in out
    assert "gsk-from-stdin" not in out
    assert keyring.get_password(SERVICE, "groq") == "gsk-from-stdin"

    code, out, _ = run(capsys, "keys", "list")
    assert code == 0
    assert any(line.split() == ["groq", "keyring"] for line in out.splitlines())
    assert "gsk-from-stdin" not in out

    assert run(capsys, "keys", "delete", "groq")[:2] == (0, "deleted the Groq key from the keyring\n")
    assert keyring.get_password(SERVICE, "groq") is None
    assert run(capsys, "keys", "delete", "groq")[1] == "no Groq key in the keyring; nothing to delete\n"


def test_keys_set_refuses_the_gateway_key(
    real_keyring: keyring.backend.KeyringBackend,
    capsys: pytest.CaptureFixture[str],
    stdin: io.StringIO,
    paths: Paths,
) -> None:
    key, _ = load_or_create_gateway_key(paths, {})
    stdin.write(key + "\n")
    stdin.seek(0)
    code, _, err = run(capsys, "keys", "set", "anthropic")  # stdin is not a TTY: reads one line
    assert code == 1 and "gateway's own key" in err
    assert keyring.get_password(SERVICE, "anthropic") is None


def test_keys_set_empty_value(
    real_keyring: keyring.backend.KeyringBackend, capsys: pytest.CaptureFixture[str], stdin: io.StringIO
) -> None:
    code, _, err = run(capsys, "keys", "set", "groq", "--value-stdin")
    assert code == 1 and "no key given" in err


# --- the real thing in subprocesses (needs http.app.create_app) --------------------------------------


@pytest.mark.e2e
def test_start_status_logs_stop_in_subprocesses(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    started = run_cli("start", "--port", str(free_port))
    assert started.returncode == 0, started.stderr
    assert f"gateway running at http://127.0.0.1:{free_port} (pid " in started.stdout
    assert str(paths.gateway_key_file) in started.stdout and "stackbilt-gw key" in started.stdout
    info = find_daemon(paths)
    assert info is not None

    again = run_cli("start", "--port", str(free_port))
    assert again.returncode == 0
    assert f"already running (pid {info.pid})" in again.stdout

    status = run_cli("status", "--json")
    report = json.loads(status.stdout)
    assert report["running"] is True and report["pid"] == info.pid and report["healthy"] is True
    assert report["url"] == f"http://127.0.0.1:{free_port}"
    text = run_cli("status").stdout
    assert f"gateway: running (pid {info.pid}) at http://127.0.0.1:{free_port}" in text

    logs = run_cli("logs", "-n", "5")
    assert logs.returncode == 0 and "Running on" in logs.stdout

    stopped = run_cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not paths.pidfile.exists()
    assert "gateway: stopped" in run_cli("status").stdout


@pytest.mark.e2e
def test_console_script_start_and_stop(stopped_daemon: Paths, free_port: int) -> None:
    assert CONSOLE_SCRIPT.exists(), "install the package: pip install -e '.[test]'"
    started = subprocess.run(
        [str(CONSOLE_SCRIPT), "start", "--port", str(free_port)], capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 0, started.stderr
    stopped = subprocess.run([str(CONSOLE_SCRIPT), "stop"], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout


@pytest.mark.e2e
def test_start_foreground_becomes_the_daemon_until_ctrl_c(stopped_daemon: Paths, free_port: int) -> None:
    paths = stopped_daemon
    argv = ["start", "--foreground", "--port", str(free_port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # Serving (not just the pidfile): its signal handlers are installed by then.
        while (info := find_daemon(paths)) is None or health("127.0.0.1", free_port) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the foreground daemon never answered /health"
            time.sleep(0.1)
        # The command became the daemon itself (same pid), listening where it was told.
        assert (info.pid, info.port) == (proc.pid, free_port)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "SIGINT received" in err
        assert not paths.pidfile.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.e2e
def test_logs_follow_prints_new_lines_until_ctrl_c(paths: Paths) -> None:
    paths.ensure()
    paths.log_file.write_text("old line\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", "logs", "-n", "1", "-f"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "old line\n"
        time.sleep(0.3)
        with paths.log_file.open("a") as fh:
            fh.write("new line\n")
        assert proc.stdout.readline() == "new line\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
