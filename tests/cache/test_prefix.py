"""Prefix markers and prompt_cache_key on upstream bodies (``cache.prefix``).

Golden files (UPDATE_GOLDEN=1 regenerates): tests/data/golden/prefix_cache/<capture>.json holds
the breakpoints pass-through adds to a real Claude Code request whose own ``cache_control`` was
stripped (and, under ``rolling``, what a translated request also gets: the conversation tail);
the test also checks that nothing else in the body changed.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.execute.passthrough import upstream_body
from stackbilt_gateway.daemon.upstream.targets import Target
from stackbilt_gateway.daemon.wires.anthropic.cache_hints import (
    MAX_BREAKPOINTS,
    has_cache_control,
    mark_prefix,
)
from stackbilt_gateway.daemon.wires.cache_hints import CacheHints, strip_billing_header
from stackbilt_gateway.daemon.wires.openai_cache_key import prompt_cache_key, set_prompt_cache_key
from stackbilt_gateway.daemon.wires.registry import WIRES
from tests.conftest import DATA_DIR

CAPTURES = DATA_DIR / "clients" / "claude-code"
GOLDEN = DATA_DIR / "golden" / "prefix_cache"
NAMES = sorted(p.stem for p in CAPTURES.glob("messages_*.json"))
BILLING = "x-anthropic-billing-header: cc_version=2.1.330.a1b; cc_entrypoint=cli; cch=4f2e1;"
CLAUDE_MD = (
    "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n"
    "# claudeMd\nCodebase and user instructions are shown below.\n\nContents of /repo/CLAUDE.md:\n"
    "Use uv. Run the tests with pytest.\n</system-reminder>"
)


def capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text("utf-8"))["request"]["body"]
    return body


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def as_blocks(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with string system/contents written as one text block (what marking does)."""
    body = copy.deepcopy(body)
    if isinstance(body.get("system"), str) and body["system"].strip():
        body["system"] = [{"type": "text", "text": body["system"]}]
    for msg in body.get("messages", []):
        if isinstance(msg["content"], str) and msg["content"].strip():
            msg["content"] = [{"type": "text", "text": msg["content"]}]
    return body


def with_repo_context(body: dict[str, Any]) -> dict[str, Any]:
    """The capture as Claude Code really sends it: billing header first, CLAUDE.md context."""
    body = copy.deepcopy(body)
    body["system"][0]["text"] = BILLING
    body["messages"][0]["content"][0]["text"] = CLAUDE_MD
    return body


def check_golden(name: str, marked: dict[str, list[str]]) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(marked, indent=1) + "\n", encoding="utf-8")
    assert json.loads(path.read_text("utf-8")) == marked, name


def at(body: dict[str, Any], path: str) -> Any:
    node: Any = body
    for part in path.replace("]", "").replace(".", "[").split("["):
        if part:
            node = node[int(part)] if part.lstrip("-").isdigit() else node[part]
    return node


@pytest.mark.parametrize("name", NAMES)
def test_golden_markers_on_stripped_claude_code_captures(name: str) -> None:
    stripped = strip(capture(name))
    golden: dict[str, list[str]] = {}
    for mode, rolling in (("markers", False), ("rolling_markers", True)):
        body = copy.deepcopy(stripped)
        marked = golden[mode] = mark_prefix(body, rolling=rolling)
        assert len(marked) <= MAX_BREAKPOINTS
        for path in marked:
            block = at(body, path)
            assert block.pop("cache_control") == {"type": "ephemeral"}
            assert block.get("type") != "text" or block["text"].strip()
        assert body in (stripped, as_blocks(stripped))  # nothing else changed
    assert golden["rolling_markers"][: len(golden["markers"])] == golden["markers"]
    check_golden(name, golden)


def test_golden_markers_with_billing_header_and_claude_md() -> None:
    body = with_repo_context(strip(capture("messages_tool_turn1")))
    rolling = copy.deepcopy(body)
    marked = mark_prefix(body)
    check_golden("messages_tool_turn1.repo_context", {"markers": marked})
    assert marked == ["tools[11]", "system[2]", "messages[0].content[0]"]
    assert "cache_control" not in body["system"][0]  # never the per-turn billing header
    assert mark_prefix(rolling, rolling=True) == [*marked, "messages[1].content[0]"]  # the 4th


@pytest.mark.parametrize("name", NAMES)
def test_client_markers_are_never_touched(name: str) -> None:
    original = capture(name)
    body = copy.deepcopy(original)
    assert mark_prefix(body) == [] or not has_cache_control(original)
    if has_cache_control(original):
        assert body == original


def test_pass_through_is_byte_for_byte_when_the_client_set_markers() -> None:
    spec = builtin_providers()["anthropic"]
    raw = json.dumps(capture("messages_tool_turn1"), indent=1).encode()  # odd spacing on purpose
    parsed = json.loads(raw)
    target = Target(spec, parsed["model"], "http://upstream")
    assert upstream_body(raw, parsed, target, WIRES["anthropic"], cache=CacheHints()) is raw
    stripped = json.dumps(strip(json.loads(raw))).encode()
    edited = upstream_body(stripped, json.loads(stripped), target, WIRES["anthropic"], cache=CacheHints())
    assert edited != stripped and json.loads(edited)["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    off = CacheHints(prefix_markers=False)
    assert upstream_body(stripped, json.loads(stripped), target, WIRES["anthropic"], cache=off) is stripped


def test_string_system_and_content_become_marked_blocks_never_empty_ones() -> None:
    body: dict[str, Any] = {"system": "be brief", "messages": [{"role": "user", "content": "hi"}]}
    assert mark_prefix(copy.deepcopy(body)) == ["system[0]"]
    assert mark_prefix(body, rolling=True) == ["system[0]", "messages[0].content[0]"]
    assert body["system"] == [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    empty: dict[str, Any] = {
        "system": [{"type": "text", "text": "  "}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "text", "text": ""}]}
        ],
    }
    assert mark_prefix(empty, rolling=True) == ["messages[0].content[0]"]
    thinking: dict[str, Any] = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]}
        ]
    }
    assert mark_prefix(thinking, rolling=True) == []
    assert mark_prefix({"messages": [{"role": "user", "content": "plain"}]}) == []  # nothing stable
    assert mark_prefix({"cache_control": {"type": "ephemeral"}, "system": "x", "messages": []}) == []


_text = st.text(alphabet=" ab\n", max_size=4)
_block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.builds(lambda: {"type": "thinking", "thinking": "t", "signature": "s"}),
    st.builds(lambda: {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}),
    st.builds(
        lambda: {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "r"}]}
    ),
    st.builds(
        lambda: {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A="}}
    ),
)
_message = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["user", "assistant", "system"]),
    st.one_of(_text, st.lists(_block, max_size=4)),
)
_body = st.fixed_dictionaries(
    {"messages": st.lists(_message, max_size=5)},
    optional={
        "system": st.one_of(
            _text, st.lists(st.builds(lambda t: {"type": "text", "text": t}, _text), max_size=3)
        ),
        "tools": st.lists(st.builds(lambda: {"name": "t", "input_schema": {"type": "object"}}), max_size=3),
    },
)


def count_markers(value: Any) -> int:
    if isinstance(value, dict):
        return ("cache_control" in value) + sum(count_markers(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_markers(v) for v in value)
    return 0


@settings(max_examples=300, deadline=None)
@given(_body, st.booleans())
def test_breakpoint_limit_and_placement_hold_for_any_body(body: dict[str, Any], rolling: bool) -> None:
    before = copy.deepcopy(body)
    marked = mark_prefix(body, rolling=rolling)
    assert count_markers(body) == len(marked) <= MAX_BREAKPOINTS
    for path in marked:
        block = at(body, path)
        assert block.get("type") not in ("thinking", "redacted_thinking")
        assert block.get("type") != "text" or block["text"].strip()
    assert as_blocks(strip(body)) == as_blocks(before)  # only markers (and string → block)
    assert mark_prefix(body, rolling=True) == [] or not marked  # a marked body is never marked again


def test_prompt_cache_key_from_session_or_stable_prefix_without_billing_header() -> None:
    assert prompt_cache_key({}, "sess-1") == prompt_cache_key({"messages": []}, "sess-1")
    assert str(prompt_cache_key({}, "sess-1")).startswith("sgw-")
    assert prompt_cache_key({"messages": [{"role": "user", "content": "hi"}]}, None) is None

    def chat(billing: str) -> dict[str, Any]:
        system = f"{billing}\nYou are Claude Code.\n\nTools: use them."
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]}

    first = prompt_cache_key(chat(BILLING), None)
    second = prompt_cache_key(chat(BILLING.replace("4f2e1", "99999")), None)
    assert first is not None and first == second
    assert first != prompt_cache_key(chat(BILLING).__or__({"tools": [{"function": {"name": "x"}}]}), None)
    assert strip_billing_header(f"{BILLING}\nrest") == "rest"
    responses = {"instructions": BILLING + "\nbe good", "input": [{"role": "developer", "content": "d"}]}
    assert prompt_cache_key(responses, None) == prompt_cache_key(
        {**responses, "instructions": "be good"}, None
    )
    own: dict[str, Any] = {"prompt_cache_key": "mine"}
    assert not set_prompt_cache_key(own, "s") and own["prompt_cache_key"] == "mine"


def test_golden_files_exist_for_every_capture() -> None:
    names = {p.stem for p in GOLDEN.glob("*.json")}
    assert set(NAMES) | {"messages_tool_turn1.repo_context"} == names
