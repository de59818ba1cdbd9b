"""``stackbilt-gw doctor --live``: one small real request per configured provider through the
running daemon, against fake upstreams: OpenAI (now over ``/v1/responses``), Anthropic, Groq, the
Gemini API and Vertex AI (the daemon fetches an OAuth token from the fake token endpoint, then
calls). An unusable service-account file is a FAIL line that names it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.paths import Paths, resolve_paths
from stackbilt_gateway.daemon.simulator.gemini import FakeGemini
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import client_binary
from tests.e2e.conftest import upstream_env
from tests.gemini.conftest import LOCATION, PROJECT, google_env, write_service_account

pytestmark = pytest.mark.e2e
LIVE_MODEL = "gemini-2.5-flash-lite"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeGemini]:
    fake = FakeGemini(public_key=rsa_key.public_key()).start()
    yield fake
    fake.stop()


@pytest.fixture
def daemon_paths(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    paths = resolve_paths(dict(os.environ))
    yield paths
    lifecycle.stop(paths, timeout=10)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _start(paths: Paths, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], account: Path) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # keys come from env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    paths.user_config_file.parent.mkdir(parents=True, exist_ok=True)
    vertex = {"project": PROJECT, "location": LOCATION, "credentials_file": str(account)}
    paths.user_config_file.write_text(json.dumps({"providers": {"vertex": vertex}}))
    started = run_cli("start", "--port", str(_port()))
    assert started.returncode == 0, started.stdout + started.stderr


def _live_lines(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if " live " in line]
    return {line.split(" live ", 1)[1].split(":", 1)[0]: line for line in lines}


def test_doctor_live_checks_every_configured_provider_gemini_and_vertex_included(
    daemon_paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
    fake_upstream: FakeUpstream,
    google: FakeGemini,
    rsa_key: rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    fake_upstream.reset()
    account = write_service_account(tmp_path / "sa.json", rsa_key, google)
    bridge = {"STACKBILT_CLAUDE_BIN": str(client_binary("claude"))}  # the claude-cli bridge's binary
    _start(
        daemon_paths, monkeypatch, {**upstream_env(fake_upstream), **google_env(google), **bridge}, account
    )
    doctor = run_cli("doctor", "--live")
    live = _live_lines(doctor.stdout)
    assert set(live) == {"anthropic", "openai", "groq", "gemini", "vertex", "claude-cli"}, doctor.stdout
    cli = live.pop("claude-cli")
    assert cli.startswith("[ ok ]") and "Claude Code" in cli, doctor.stdout  # its --version answered
    for line in live.values():
        assert line.startswith("[ ok ]") and "answered in" in line, doctor.stdout
    assert f"vertex/{LIVE_MODEL}" in live["vertex"] and f"gemini/{LIVE_MODEL}" in live["gemini"]
    # OpenAI was reached over the Responses wire, with the doctor's cheap model.
    (openai_call,) = fake_upstream.calls("/responses")
    assert openai_call.path == "/v1/responses" and openai_call.body["model"] == "gpt-5-mini"
    # Vertex: a token from the service-account flow first, then the call under the project path.
    assert google.token_requests
    vertex = [
        c for c in google.requests if c.path.startswith(f"/v1/projects/{PROJECT}/locations/{LOCATION}/")
    ]
    gemini = [c for c in google.requests if c.path.startswith("/v1beta/models/")]
    assert [c.model for c in vertex] == [LIVE_MODEL] and [c.model for c in gemini] == [LIVE_MODEL]
    assert vertex[0].headers.get("authorization", "").startswith("Bearer ")


def test_doctor_live_fails_vertex_naming_an_unusable_credential_file(
    daemon_paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
    fake_upstream: FakeUpstream,
    google: FakeGemini,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "not-a-service-account.json"
    broken.write_text(json.dumps({"type": "authorized_user"}))
    _start(daemon_paths, monkeypatch, {**upstream_env(fake_upstream), **google_env(google)}, broken)
    doctor = run_cli("doctor", "--live")
    live = _live_lines(doctor.stdout)
    assert live["vertex"].startswith("[FAIL]") and str(broken) in live["vertex"], doctor.stdout
    assert live["openai"].startswith("[ ok ]")
    assert doctor.returncode == 1
    assert not google.token_requests
