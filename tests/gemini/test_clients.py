"""The real Claude Code and Codex CLIs (pinned, from npm) translated onto the Gemini wire.

Claude Code speaks Anthropic Messages and Codex speaks Responses; the gateway serves both from the
fake Gemini API (and Vertex AI) upstream, whose request log shows the ``generateContent`` wire and
the model. Tool loops go through function calls whose ``thoughtSignature`` must come back.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.simulator.gemini import SKIP_SIGNATURE, FakeGemini
from tests.clients import ROOT, run_claude, run_codex
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread
from tests.gemini.conftest import MODEL, google_env

pytestmark = pytest.mark.e2e
STREAM_PATH = f"/v1beta/models/{MODEL}:streamGenerateContent"


def claude(gateway: GatewayThread, tmp_path: Path, prompt: str, model: str, **kw: Any) -> Any:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"ANTHROPIC_API_KEY": GATEWAY_KEY, "ANTHROPIC_SMALL_FAST_MODEL": model}
    return run_claude(
        prompt, base_url=gateway.url, home=tmp_path / "home", cwd=work, model=model, env=env, **kw
    )


@pytest.mark.parametrize("provider", ["gemini", "vertex"])
def test_claude_code_text(gemini: FakeGemini, gateway: GatewayThread, tmp_path: Path, provider: str) -> None:
    run = claude(gateway, tmp_path, "say hello to gemini", f"{provider}/{MODEL}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"].startswith("FAKE_REPLY")
    calls = [c for c in gemini.requests if c.model == MODEL and c.path.endswith("GenerateContent")]
    assert calls and all(c.path.endswith((":streamGenerateContent", ":generateContent")) for c in calls)
    assert any("say hello to gemini" in str(c.body["contents"]) for c in calls)
    if provider == "vertex":
        assert all(c.path.startswith("/v1/projects/") for c in calls)


def test_claude_code_bash_tool_loop(gemini: FakeGemini, gateway: GatewayThread, tmp_path: Path) -> None:
    run = claude(
        gateway,
        tmp_path,
        "RUN_BASH: echo gem_TOOL_MARKER_$((6*7))",
        f"gemini/{MODEL}",
        args=["--allowedTools", "Bash"],
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["result"] == "TOOL_RESULT_SEEN: gem_TOOL_MARKER_42"
    assert len(gemini.calls(STREAM_PATH)) >= 2
    # Claude Code replayed Gemini's own signature (carried in its thinking block), not the stand-in.
    assert gemini.replayed_signatures and SKIP_SIGNATURE not in gemini.replayed_signatures


def test_claude_code_thinking(gemini: FakeGemini, gateway: GatewayThread, tmp_path: Path) -> None:
    run = claude(
        gateway,
        tmp_path,
        "THINK then RUN_BASH: echo thought",
        f"gemini/{MODEL}",
        args=["--allowedTools", "Bash", "--settings", '{"alwaysThinkingEnabled": true}'],
        output="stream-json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    events = run.stream_events()
    assert events[-1]["result"] == "TOOL_RESULT_SEEN: thought"
    thinking = [
        block
        for e in events
        if e.get("type") == "assistant"
        for block in e["message"]["content"]
        if block["type"] == "thinking"
    ]
    assert thinking and all(b["signature"].startswith("gw:") for b in thinking)
    first = gemini.calls(STREAM_PATH)[0].body
    assert first["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    assert any(b["thinking"] == "Thinking about the tool." for b in thinking)
    assert gemini.replayed_signatures and SKIP_SIGNATURE not in gemini.replayed_signatures


@pytest.fixture(scope="module")
def codex_gateway(fake_gemini: FakeGemini) -> Iterator[GatewayThread]:
    config = Config(model_map={"gpt-5.5": f"gemini/{MODEL}"})
    gw = GatewayThread(env=google_env(fake_gemini), config=config).start()
    yield gw
    gw.stop()


@pytest.fixture
def workdir() -> Iterator[Path]:
    root = ROOT / ".cache" / "codex-e2e" / uuid.uuid4().hex[:12]
    (root / "work").mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _codex(gw: GatewayThread, workdir: Path, prompt: str) -> Any:
    return run_codex(
        prompt, base_url=gw.url, home=workdir, cwd=workdir / "work", model="gpt-5.5", gateway_key=GATEWAY_KEY
    )


def test_codex_text(gemini: FakeGemini, codex_gateway: GatewayThread, workdir: Path) -> None:
    run = _codex(codex_gateway, workdir, "say hello to codex on gemini")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.last_message.startswith("FAKE_REPLY")
    (call,) = gemini.calls(STREAM_PATH)
    assert call.query == "alt=sse" and "say hello to codex on gemini" in str(call.body["contents"])


def test_codex_shell_loop(gemini: FakeGemini, codex_gateway: GatewayThread, workdir: Path) -> None:
    run = _codex(codex_gateway, workdir, "RUN_SHELL: echo codex_GEM_$((6*7))")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "TOOL_RESULT_SEEN:" in run.last_message and "codex_GEM_42" in run.last_message
    assert len(gemini.calls(STREAM_PATH)) >= 2
    assert gemini.replayed_signatures and SKIP_SIGNATURE not in gemini.replayed_signatures


def test_codex_apply_patch_custom_tool(
    gemini: FakeGemini, codex_gateway: GatewayThread, workdir: Path
) -> None:
    """Codex's freeform ``apply_patch`` tool reaches Gemini as a function with one string
    parameter, and Gemini's call comes back to Codex as the custom tool call it offered."""
    run = _codex(codex_gateway, workdir, "APPLY_PATCH: patched.txt")
    assert run.returncode == 0, run.stdout + run.stderr
    target = workdir / "work" / "patched.txt"
    assert target.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    assert target.read_text() == 'patched by "fake" model\n'
    assert "TOOL_RESULT_SEEN:" in run.last_message
    first = gemini.calls(STREAM_PATH)[0].body
    declared = {d["name"]: d for t in first["tools"] for d in t.get("functionDeclarations", [])}
    assert declared["apply_patch"]["parameters"]["properties"] == {"input": {"type": "string"}}
