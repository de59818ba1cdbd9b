"""Fixtures for the team-ledger tests: one real PostgreSQL server for the session (``pg``), a
fresh database per test (``ledger_url``), and real daemon processes (``stackbilt-gw start``),
each with its own home, user name and config file pointing at the ledger (``Developer``)."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.gatewaykey import load_or_create_gateway_key
from stackbilt_gateway.daemon.control.paths import Paths, resolve_paths
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from stackbilt_gateway.daemon.telemetry.store import db_path
from tests.e2e.conftest import upstream_env
from tests.team.pgserver import PgServer, free_port

_DATABASES = itertools.count(1)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = PgServer.create()
    yield server
    server.destroy()


@pytest.fixture
def ledger_url(pg: PgServer) -> str:
    """A fresh, empty ledger database on the session's server (its URL, password included)."""
    if not pg.running():
        pg.start()
    name = f"team_{os.getpid()}_{next(_DATABASES)}"
    pg.sql(f"CREATE DATABASE {name}", database="postgres")
    return pg.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


def run_cli(*args: str, env: dict[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Developer:
    """One developer's gateway: a real daemon process with its own home and login name."""

    user: str
    home: Path
    env: dict[str, str]
    port: int = 0
    key: str = ""
    sent: list[str] = field(default_factory=list)

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self, settings: dict[str, Any]) -> None:
        self.paths.ensure()
        self.paths.user_config_file.write_text(json.dumps(settings))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.env)

    def start(self) -> Developer:
        self.port = self.port or free_port()
        out = self.cli("start", "--port", str(self.port))
        assert out.returncode == 0, out.stderr + out.stdout
        self.key, _ = load_or_create_gateway_key(self.paths, self.env)
        return self

    def stop(self) -> None:
        lifecycle.stop(self.paths, timeout=20)

    def request(self, text: str = "hello") -> None:
        body = {
            "model": "claude-haiku-4-5",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": text}],
        }
        r = httpx.post(
            self.url + "/v1/messages",
            json=body,
            headers={"x-api-key": self.key, "anthropic-version": "2023-06-01"},
            timeout=20,
            trust_env=False,
        )
        assert r.status_code == 200, r.text

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(
            self.url + path, params=params, headers={"x-api-key": self.key}, timeout=30, trust_env=False
        )

    def local_ids(self) -> set[str]:
        database = db_path(self.paths.data_dir)
        if not database.exists():
            return set()
        conn = sqlite3.connect(database)
        try:
            return {row[0] for row in conn.execute("SELECT id FROM events")}
        finally:
            conn.close()


@pytest.fixture
def developers(
    tmp_path: Path, fake_upstream: FakeUpstream, ledger_url: str
) -> Iterator[Callable[[str], Developer]]:
    """Make developers (each configured for this test's ledger); every daemon stops at the end."""
    made: list[Developer] = []

    def make(user: str, settings: dict[str, Any] | None = None) -> Developer:
        home = tmp_path / f"home-{user}"
        env = {
            **os.environ,
            **upstream_env(fake_upstream),
            "STACKBILT_GATEWAY_HOME": str(home),
            "USER": user,
            "LOGNAME": user,
            # Provider keys come from the environment; never the session's real keyring.
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        dev = Developer(user=user, home=home, env=env)
        dev.configure(settings if settings is not None else {"telemetry": {"postgres_url": ledger_url}})
        made.append(dev)
        return dev

    yield make
    for dev in made:
        dev.stop()
