"""The real Codex CLI (pinned, from npm) → the gateway's /v1/responses → a fake upstream.

Codex always asks for ``gpt-5.5`` (so it offers its full tool set, ``apply_patch`` included);
the gateway serves it three ways: pass-through to an OpenAI Responses upstream, and — through
the config's ``model_map`` — translated to Anthropic Messages and to Chat Completions.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.clients import ROOT, CodexRun, run_codex
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

CODEX_MODEL = "gpt-5.5"
ROUTES = {
    "passthrough": (None, "/v1/responses"),
    "to-anthropic": ("anthropic/claude-opus-5-5", "/v1/messages"),
    "to-chat": ("groq/llama-3.3-70b-versatile", "/chat/completions"),
}


@pytest.fixture(scope="module")
def gateways(fake_upstream: FakeUpstream) -> Iterator[dict[str, GatewayThread]]:
    started: dict[str, GatewayThread] = {}
    for name, (mapped, _) in ROUTES.items():
        config = Config(model_map={CODEX_MODEL: mapped} if mapped else {})
        started[name] = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    yield started
    for gw in started.values():
        gw.stop()


@pytest.fixture(params=sorted(ROUTES))
def route(
    request: pytest.FixtureRequest, gateways: dict[str, GatewayThread]
) -> tuple[GatewayThread, str, str]:
    return gateways[request.param], CODEX_MODEL, ROUTES[request.param][1]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Codex's sandbox refuses /tmp, so its home and working dir live in the project's cache."""
    root = ROOT / ".cache" / "codex-e2e" / uuid.uuid4().hex[:12]
    (root / "work").mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def codex(gateway: GatewayThread, workdir: Path, prompt: str, model: str, **kw: object) -> CodexRun:
    return run_codex(
        prompt,
        base_url=gateway.url,
        home=workdir,
        cwd=workdir / "work",
        model=model,
        gateway_key=GATEWAY_KEY,
        **kw,
    )  # type: ignore[arg-type]


def test_text(upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]) -> None:
    gateway, model, path = route
    run = codex(gateway, workdir, "say hello to codex", model)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.last_message.startswith("FAKE_REPLY")
    (call,) = upstream.calls(path)
    assert "say hello to codex" in call.raw.decode()


def test_shell_tool_loop(
    upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]
) -> None:
    gateway, model, path = route
    run = codex(gateway, workdir, "RUN_SHELL: echo codex_MARKER_$((6*7))", model)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "TOOL_RESULT_SEEN:" in run.last_message and "codex_MARKER_42" in run.last_message
    assert len(upstream.calls(path)) >= 2


def test_file_read(upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]) -> None:
    gateway, model, _ = route
    (workdir / "work" / "notes.txt").write_text("CODEX_READ_MARKER_77\n")
    run = codex(gateway, workdir, "RUN_SHELL: cat notes.txt", model)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "CODEX_READ_MARKER_77" in run.last_message


def test_apply_patch_custom_tool(
    upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]
) -> None:
    gateway, model, path = route
    run = codex(gateway, workdir, "APPLY_PATCH: patched.txt", model)
    assert run.returncode == 0, run.stdout + run.stderr
    target = workdir / "work" / "patched.txt"
    assert target.exists(), run.stdout + run.stderr
    assert target.read_text() == 'patched by "fake" model\n'
    # The follow-up turn carried Codex's custom tool output back to the model.
    assert "TOOL_RESULT_SEEN:" in run.last_message
    assert len(upstream.calls(path)) >= 2


def test_rate_limit_then_success(
    upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]
) -> None:
    gateway, model, path = route
    upstream.fail_next(429, headers={"retry-after": "1"})
    run = codex(gateway, workdir, "hello after a rate limit", model)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAKE_REPLY" in run.last_message
    assert len(upstream.calls(path)) >= 2


def test_bad_request_is_a_clean_error(
    upstream: FakeUpstream, workdir: Path, route: tuple[GatewayThread, str, str]
) -> None:
    gateway, model, path = route
    upstream.fail_next(
        400,
        {"error": {"message": "UPSTREAM_SAYS_NO", "type": "invalid_request_error", "code": None}}
        if "anthropic" not in path
        else {"type": "error", "error": {"type": "invalid_request_error", "message": "UPSTREAM_SAYS_NO"}},
    )
    run = codex(gateway, workdir, "this request is rejected", model)
    assert run.returncode == 1
    assert "UPSTREAM_SAYS_NO" in run.stdout + run.stderr
    assert len(upstream.calls(path)) == 1, "a 400 is not retried"
