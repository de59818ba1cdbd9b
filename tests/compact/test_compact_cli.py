"""``stackbilt-gw compact FILE`` on a Claude Code session file, against a running gateway."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from stackbilt_gateway.daemon.cli import compact as cli_compact
from stackbilt_gateway.daemon.cli import main
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

SESSION = [
    {"type": "summary", "summary": "Set up the project", "leafUuid": "u0"},
    {
        "type": "user",
        "uuid": "u1",
        "sessionId": "s",
        "message": {"role": "user", "content": "Rename the helper in utils.py; token=abcd1234secret"},
    },
    {
        "type": "assistant",
        "uuid": "u2",
        "message": {
            "id": "msg_1",
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "tool_use", "id": "tu1", "name": "Edit", "input": {"file_path": "utils.py"}},
            ],
        },
    },
    {
        "type": "user",
        "uuid": "u3",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "ok"}],
        },
    },
    {
        "type": "assistant",
        "uuid": "u4",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
    },
]


@pytest.fixture
def running(gw: GatewayThread, monkeypatch: pytest.MonkeyPatch) -> GatewayThread:
    monkeypatch.setattr(
        cli_compact, "find_daemon", lambda paths: SimpleNamespace(host="127.0.0.1", port=gw.port)
    )
    monkeypatch.setattr(cli_compact, "read_gateway_key", lambda paths, env: (GATEWAY_KEY, "test"))
    return gw


def test_compact_a_claude_code_jsonl_file(
    running: GatewayThread, upstream: FakeUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "0b5c-session.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in SESSION) + "\n", encoding="utf-8")
    assert main(["compact", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Compacted with groq/openai/gpt-oss-20b: 1 chunk(s), 1 call(s)")
    assert "1 entries had secrets masked" in out
    assert "Files changed\n  - src/app.py: edited\n  - README.md" in out
    assert "Open questions\n  (none)" in out
    (call,) = upstream.calls("/chat/completions")
    prompt = call.body["messages"][1]["content"]
    assert "[note] earlier summary: Set up the project" in prompt
    assert '→ tool call Edit({"file_path":"utils.py"})' in prompt
    assert "abcd1234secret" not in call.raw.decode()

    assert main(["compact", str(path), "--json", "--model", "groq/llama-3.1-8b-instant"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["model"] == "groq/llama-3.1-8b-instant" and answer["chunks"] == 1


def test_compact_reports_unreadable_files_and_a_stopped_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["compact", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the transcript" in capsys.readouterr().err
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"role": "user", "content": "hi"}]), encoding="utf-8")
    assert cli_compact.transcript_payload(path.read_text(), str(path)) == {
        "messages": [{"role": "user", "content": "hi"}]
    }
    monkeypatch.setattr(cli_compact, "find_daemon", lambda paths: None)
    assert main(["compact", str(path)]) == 1
    assert "the gateway is not running" in capsys.readouterr().err
