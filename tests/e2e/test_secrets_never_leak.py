"""Secrets never leave through the gateway's own writing: an upstream that echoes a prompt's secrets
and the gateway's own provider keys in its error messages leaves no trace of them in the daemon's
log, the telemetry database or the error the client receives — pass-through and translated alike.

The daemon runs as its own process (``python -m stackbilt_gateway.daemon``), so the log is the
real one with the real logging set-up.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.daemon_process import daemon_process

pytestmark = pytest.mark.e2e

GATEWAY_KEY = "sgw-hostile-test-gateway-key-0123456789"
# Provider keys of unusual shapes: only the daemon's memory of them can mask them.
ANTHROPIC_KEY = "anthropic-provider-key-Zq81xx7yy3"
GROQ_KEY = "groq-provider-key-Pw52aa9bb1"
PLANTED = (
    "sk-ant-api03-PLANTEDsecretVALUE0123456789",
    "ghp_PLANTEDgithubTOKEN0123456789abcdef",
    "AKIAPLANTED012345678",
    "password=hunter2planted",
)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, FakeUpstream, Path]]:
    fake = FakeUpstream().start()
    env = {
        "STACKBILT_GATEWAY_KEY": GATEWAY_KEY,
        "STACKBILT_ANTHROPIC_BASE_URL": fake.url,
        "STACKBILT_GROQ_BASE_URL": fake.url + "/v1",
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "GROQ_API_KEY": GROQ_KEY,
    }
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    try:
        with daemon_process(tmp_path, env, base_env=base) as daemon:
            yield daemon.url, fake, daemon.home
    finally:
        fake.stop()


def _hostile_message() -> str:
    return "rejected: " + " ".join(PLANTED) + f" your keys {ANTHROPIC_KEY} and {GROQ_KEY} are wrong"


def test_no_secret_reaches_the_log_the_database_or_the_client(
    daemon: tuple[str, FakeUpstream, Path], tmp_path: Path
) -> None:
    url, fake, home = daemon
    answers: list[str] = []
    # Pass-through (Anthropic client → Anthropic) and translated (Chat client → Anthropic, → Groq).
    fake.fail_next(
        400, {"type": "error", "error": {"type": "invalid_request_error", "message": _hostile_message()}}
    )
    answers.append(
        httpx.post(
            f"{url}/v1/messages",
            json={
                "model": "claude-opus-5-5",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers={"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"},
            timeout=10,
        ).text
    )
    for model in ("claude-opus-5-5", "groq/llama-3.3-70b-versatile"):
        fake.fail_next(400, {"error": {"type": "invalid_request_error", "message": _hostile_message()}})
        answers.append(
            httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                timeout=10,
            ).text
        )
    assert len(fake.requests) == 3, "every request reached the hostile upstream"
    # The client learns that it failed and why, masked.
    for text in answers:
        assert "rejected" in text and "***" in text
    # The telemetry rows are written (poll the database), then the daemon stops and flushes its log.
    db = next(home.rglob("telemetry.sqlite"), None)
    deadline = time.monotonic() + 10
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        db = db or next(home.rglob("telemetry.sqlite"), None)
        if db is not None:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT * FROM events").fetchall()
            if len(rows) >= 3:
                break
        time.sleep(0.1)
    assert len(rows) == 3
    dumped = "\n".join(repr(r) for r in rows)
    log = (tmp_path / "daemon.log").read_text()
    assert "rejected" in log  # the failures are logged …
    for secret in (*PLANTED, ANTHROPIC_KEY, GROQ_KEY, GATEWAY_KEY):
        for where, text in (("log", log), ("database", dumped), *(("client", a) for a in answers)):
            assert secret not in text, f"{secret!r} leaked into the {where}"
