"""Compaction pieces without sockets: transcripts, the schema, chunking, model choice, the engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackbilt_gateway.daemon.compact.chunking import budget_for, merge_batches, pack, split_text
from stackbilt_gateway.daemon.compact.engine import CompactionFailed, compact
from stackbilt_gateway.daemon.compact.schema import FACTS_SCHEMA, FIELDS, parse_facts, validate_facts
from stackbilt_gateway.daemon.compact.transcript import (
    parse_claude_code_jsonl,
    parse_transcript,
)
from stackbilt_gateway.daemon.compact.upstream import choose_model
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.errors import InvalidRequest, NoProviderAvailable, RequestTooLarge
from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.routing.runtime import Router

VALID = {
    "durable_facts": ["uses uv"],
    "decisions_made": [],
    "files_changed": ["a.py", {"path": "b.py", "change": "new"}],
    "open_questions": [],
    "next_actions": ["ship"],
    "context_to_discard": [],
}

JSONL = (
    "\n".join(
        json.dumps(r)
        for r in [
            {"type": "summary", "summary": "Earlier: set up the repo", "leafUuid": "x"},
            {"type": "user", "message": {"role": "user", "content": "fix the flaky test"}, "uuid": "1"},
            {"type": "user", "isMeta": True, "message": {"role": "user", "content": "<command-name>/clear"}},
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "Edit", "input": {"file_path": "t.py"}}
                    ],
                },
            },
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}],
                },
            },
            {"type": "file-history-snapshot", "snapshot": {}},
        ]
    )
    + '\n{"type": "assistant", "message": {"role": "assis'
)  # a live session's cut last line


def test_schema_validator_accepts_the_contract_and_names_every_problem() -> None:
    assert validate_facts(VALID) == []
    assert set(FACTS_SCHEMA["required"]) == set(FIELDS)
    bad = {**VALID, "files_changed": [{"path": ""}, 3], "next_actions": "ship", "extra": []}
    del bad["open_questions"]
    errors = validate_facts(bad)
    assert "extra: unexpected key" in errors[0]
    assert "open_questions: required key is missing" in errors
    assert "next_actions: expected an array" in errors
    assert "files_changed[0].change: required string" in errors
    assert "files_changed[0].path: must not be empty" in errors
    assert any(e.startswith("files_changed[1]: expected a string or an object") for e in errors)
    assert validate_facts([]) == ["the top level must be a JSON object, not list"]


def test_parse_facts_tolerates_fences_only() -> None:
    assert parse_facts("```json\n" + json.dumps(VALID) + "\n```") == (VALID, None)
    assert parse_facts("Sure: " + json.dumps(VALID))[0] == VALID
    assert parse_facts("no json")[1] == "the answer contains no JSON object"
    assert "not valid JSON" in str(parse_facts("{'a': 1}")[1])


def test_anthropic_and_chat_transcripts_summarise_tools() -> None:
    out = parse_transcript(
        {
            "system": [{"type": "text", "text": "sys"}],
            "messages": [
                {"role": "user", "content": "hi <system-reminder>noise</system-reminder>"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"function": {"name": "ls", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "x", "content": "x" * 1000},
            ],
        }
    )
    rendered = [e.render() for e in out.entries]
    assert rendered[0] == "[system] sys"
    assert rendered[1] == "[user] hi [system reminder omitted]"
    assert rendered[2] == "[assistant] → tool call ls({})"
    assert rendered[3].startswith("[tool] ← tool result: xxx") and rendered[3].endswith("more chars]")


def test_secrets_are_masked_before_clipping() -> None:
    key = "sk-ant-api03-" + "A" * 40
    out = parse_transcript({"messages": [{"role": "user", "content": "x" * 590 + " " + key}], "system": None})
    assert key not in out.entries[0].text and out.redacted == 1
    clipped = parse_transcript(
        {"input": [{"type": "function_call_output", "call_id": "c", "output": "y" * 590 + " " + key}]}
    )
    assert "sk-ant-api" not in clipped.entries[0].text  # masked first, then cut


def test_claude_code_jsonl() -> None:
    out = parse_claude_code_jsonl(JSONL)
    assert [e.render() for e in out.entries] == [
        "[note] earlier summary: Earlier: set up the repo",
        "[user] fix the flaky test",
        '[assistant] → tool call Edit({"file_path":"t.py"})',
        "[tool] ← tool result: ok",
    ]
    assert parse_transcript({"jsonl": JSONL}).entries == out.entries


def test_unreadable_transcripts_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest, match="expected a transcript"):
        parse_transcript({})
    with pytest.raises(InvalidRequest, match="nothing to compact"):
        parse_transcript({"messages": [{"role": "user", "content": "  "}]})
    with pytest.raises(InvalidRequest, match=r"messages\.0"):
        parse_transcript({"messages": ["hi"]})


def test_chunking_packs_in_order_and_splits_long_lines() -> None:
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_text("aaaaaaaaa\nbbbbb", 10) == ["aaaaaaaaa", "bbbbb"]
    chunks = pack(["x" * 6, "y" * 6, "z" * 30], 14)
    assert chunks == ["x" * 6 + "\n" + "y" * 6, "z" * 14, "z" * 14, "z" * 2]
    assert all(len(c) <= 14 for c in chunks)
    assert merge_batches(["a" * 5] * 5, 12) == [["a" * 5] * 2, ["a" * 5] * 3]
    assert merge_batches(["a" * 50] * 2, 10) == [["a" * 50] * 2]  # never a batch of one
    budget = budget_for(16_000, 8_000, 4_000)
    assert budget.max_output == 4_000 and budget.chunk_chars == (int(12_000 / 1.2) - 1_001) * 4
    with pytest.raises(InvalidRequest, match="too small"):
        budget_for(1_000, None, 4_000)


class Script:
    """A ModelCall that answers from a list and records what it was asked."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.prompts: list[tuple[str, str]] = []

    async def __call__(self, system: str, prompt: str, *, max_tokens: int, label: str) -> tuple[str, Usage]:
        self.prompts.append((label, prompt))
        return self.answers.pop(0), Usage(input_tokens=10, output_tokens=2)


async def test_engine_maps_then_merges_and_retries_once() -> None:
    entries = {"messages": [{"role": "user", "content": f"m{i} " + "w" * 6000} for i in range(6)]}
    script = Script([json.dumps(VALID)] * 3 + ["oops", json.dumps({**VALID, "durable_facts": ["merged"]})])
    result = await compact(
        parse_transcript(entries), window=8_000, max_output=None, call=script, max_chunks=9
    )
    assert result.chunks == 3 and result.calls == 5
    assert [label for label, _ in script.prompts] == [
        "chunk 1/3",
        "chunk 2/3",
        "chunk 3/3",
        "merge 1.1",
        "merge 1.1-retry",
    ]
    assert result.facts["durable_facts"] == ["merged"]
    assert result.usage.input_tokens == 50
    with pytest.raises(RequestTooLarge, match=r"compaction.max_chunks = 2"):
        await compact(parse_transcript(entries), window=8_000, max_output=None, call=script, max_chunks=2)
    with pytest.raises(CompactionFailed, match="chunk 1/1 broke the output schema twice"):
        await compact(
            parse_transcript({"input": "hi"}),
            window=8_000,
            max_output=None,
            call=Script(["x", "y"]),
            max_chunks=1,
        )


def _router(**models: Any) -> Router:
    return Router.from_config(Config(models=models))


def test_auto_picks_the_cheapest_usable_priced_model_with_a_16k_window() -> None:
    router = _router(**{"groq/llama-3.1-8b-instant": {"context_window": 8_000}})
    pick = choose_model("auto", router=router, usable=lambda p: p == "groq")
    assert pick.key == "groq/openai/gpt-oss-20b" and pick.window == 131_072
    groq_or_anthropic = choose_model("auto", router=_router(), usable=lambda p: p in ("groq", "anthropic"))
    assert groq_or_anthropic.key == "groq/llama-3.1-8b-instant"
    anthropic = choose_model("auto", router=_router(), usable="anthropic".__eq__)
    assert anthropic.key == "anthropic/claude-haiku-5-5"
    openai = choose_model("auto", router=_router(), usable=lambda p: p == "openai")
    assert openai.key == "openai/gpt-5.6-luna"
    with pytest.raises(NoProviderAvailable, match=r"compaction\.model"):
        choose_model("auto", router=_router(), usable=lambda p: p == "ollama")
    pinned = choose_model("groq/llama-3.1-8b-instant", router=router, usable=bool)
    assert (pinned.key, pinned.window) == ("groq/llama-3.1-8b-instant", 8_000)
