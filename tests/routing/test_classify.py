"""The classifier: one test per rule of docs/routing.md, on real client request shapes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stackbilt_gateway.daemon.core.ir import Message, TextPart, ThinkingConfig
from stackbilt_gateway.daemon.core.tokens import estimate_request_tokens
from stackbilt_gateway.daemon.routing.classify import KEYWORDS, RouteDecision, classify
from stackbilt_gateway.daemon.routing.signals import estimate_tokens
from tests.routing.captures import CLIENTS, append_turn, claude, codex, with_user_text

PLAN_REMINDER = (
    "<system-reminder>Plan mode is active. The user indicated that they do not want you to execute "
    "yet -- you MUST NOT make any edits.</system-reminder>"
)


def test_plain_captures_fall_back_safely() -> None:
    decision = classify(claude("messages_stream_text_turn"), client="claude-code")
    assert isinstance(decision, RouteDecision)
    assert (decision.route_class, decision.rule, decision.confidence) == ("fallback_safe", "default", 0.3)
    signals = decision.signals
    assert signals["tool_count"] == 12 and signals["carries_tools"] is True
    assert signals["has_tool_result"] is False and signals["thinking"] is True
    assert signals["client"] == "claude-code" and signals["keywords"] == {}
    assert classify(codex("responses_text_gpt-5.5"), client="codex").route_class == "fallback_safe"


# --- background -----------------------------------------------------------------------------


def test_quota_probe_is_background() -> None:
    req = dataclasses.replace(claude("messages_stream_text_turn"), max_tokens=1)
    decision = classify(req)
    assert (decision.route_class, decision.rule) == ("background", "quota_probe")
    assert decision.signals["is_quota_probe"] is True


def test_claude_code_session_title_request_is_background() -> None:
    decision = classify(claude("messages_interactive_title_generation"), client="claude-code")
    assert (decision.route_class, decision.rule, decision.confidence) == ("background", "title_request", 0.9)
    assert decision.signals["is_title_request"] is True and decision.signals["tool_count"] == 0


def test_small_structured_output_without_tools_is_background() -> None:
    req = claude("messages_interactive_title_generation")
    req = dataclasses.replace(req, response_format={"name": "r", "schema": {"properties": {"tags": {}}}})
    decision = classify(req)
    assert (decision.route_class, decision.rule) == ("background", "structured_small")
    assert decision.signals["is_title_request"] is False


def test_structured_output_with_tools_is_not_housekeeping() -> None:
    title = claude("messages_interactive_title_generation")
    req = dataclasses.replace(claude("messages_stream_text_turn"), response_format=title.response_format)
    assert classify(req).route_class != "background"


def test_topic_check_is_background() -> None:
    req = claude("messages_interactive_title_generation")
    req = dataclasses.replace(
        req,
        response_format=None,
        system=[TextPart("Analyze if this message indicates a new conversation topic. Reply with JSON.")],
    )
    decision = classify(req)
    assert (decision.route_class, decision.rule) == ("background", "topic_check")


# --- tool loop ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("claude", "messages_tool_result_turn2"),
        ("claude", "messages_thinking_signature_echo_turn2"),
        ("codex", "responses_function_call_output_turn2_gpt-5.5"),
        ("codex", "responses_custom_tool_call_output_turn2_default_model"),
    ],
)
def test_tool_result_in_latest_user_message_is_tool_loop(kind: str, name: str) -> None:
    req = claude(name) if kind == "claude" else codex(name)
    decision = classify(req)
    assert (decision.route_class, decision.rule, decision.confidence) == ("tool_loop", "tool_result", 0.95)
    assert decision.signals["has_tool_result"] is True


def test_tool_result_in_an_older_turn_is_not_tool_loop() -> None:
    req = append_turn(claude("messages_tool_result_turn2"), "The marker is 42.", "thanks, that is all")
    decision = classify(req)
    assert decision.route_class == "fallback_safe"
    assert decision.signals["has_tool_result"] is False
    assert decision.signals["carries_tools"] is True  # the history still has tool traffic


def test_tool_result_beats_keywords_and_length() -> None:
    req = claude("messages_tool_result_turn2")
    req.messages[-1].parts.append(TextPart("please summarize"))
    assert classify(req, long_context_tokens=1_000).route_class == "tool_loop"


# --- long context, plan mode, effort --------------------------------------------------------


def test_long_context_above_the_threshold() -> None:
    req = claude("messages_stream_text_turn")
    est = estimate_tokens(req)
    assert classify(req).route_class == "fallback_safe"  # ~16k tokens < 100k default
    decision = classify(req, long_context_tokens=est)
    assert (decision.route_class, decision.rule) == ("long_context", "long_context")
    assert classify(req, long_context_tokens=est + 1).route_class == "fallback_safe"


def test_claude_code_plan_mode_reminder_is_planning() -> None:
    req = with_user_text(claude("messages_interactive_turn1"), PLAN_REMINDER + "\nadd retries to the client")
    decision = classify(req, client="claude-code")
    assert (decision.route_class, decision.rule) == ("planning", "plan_mode")
    assert decision.signals["plan_mode"] is True


def test_codex_plan_collaboration_mode_is_planning() -> None:
    req = codex("responses_text_gpt-5.5")
    req.messages.insert(-1, Message("system", [TextPart("<collaboration_mode># Plan Mode (Conversational)")]))
    assert classify(req, client="codex").rule == "plan_mode"


def test_plan_mode_in_an_older_turn_is_ignored() -> None:
    req = with_user_text(claude("messages_interactive_turn1"), PLAN_REMINDER + " go")
    req = append_turn(req, "Here is the plan.", "ok")
    assert classify(req).signals["plan_mode"] is False


def test_high_effort_thinking_is_deep_reasoning() -> None:
    decision = classify(claude("messages_custom_model_name"))  # Claude Code sent effort "high"
    assert (decision.route_class, decision.rule, decision.confidence) == (
        "deep_reasoning",
        "high_effort",
        0.8,
    )
    req = dataclasses.replace(
        claude("messages_stream_text_turn"), thinking=ThinkingConfig(budget_tokens=32_000)
    )
    assert classify(req).rule == "high_effort"
    medium = classify(claude("messages_stream_text_turn"))
    assert medium.signals["effort"] == "medium" and medium.route_class == "fallback_safe"
    req = codex("responses_text_gpt-5.5")
    req = dataclasses.replace(req, thinking=ThinkingConfig(effort="xhigh"))
    assert classify(req, client="codex").route_class == "deep_reasoning"


# --- keywords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what are the trade-offs between sqlite and postgres here?", "deep_reasoning"),
        ("find the root cause of the flaky test", "deep_reasoning"),
        ("make a plan for the config migration", "planning"),
        ("implement a retry decorator for the http client", "code_draft"),
        ("write a function that parses ISO dates", "code_draft"),
        ("give me a regex for semver strings", "fast_code"),
        ("rename fetch_all to fetch_everything in utils.py", "cheap_edit"),
        ("fix the typo in the README", "cheap_edit"),
        ("summarize what changed on this branch", "summary"),
        ("tl;dr of the design discussion above please", "planning"),  # design outranks tl;dr
        ("tl;dr of that log please", "summary"),
        ("write a commit message for these changes", "summary"),
    ],
)
def test_keyword_classes(text: str, expected: str) -> None:
    for req in (claude("messages_stream_text_turn"), codex("responses_text_gpt-5.5")):
        decision = classify(with_user_text(req, text))
        assert decision.route_class == expected, decision.signals["keywords"]
        assert decision.rule == f"keyword_{expected}"


@pytest.mark.parametrize(
    "text",
    ["the planet is formatted nicely", "designated summaryless renamer", "implementation details: none"],
)
def test_keywords_match_whole_words_only(text: str) -> None:
    decision = classify(with_user_text(claude("messages_stream_text_turn"), text))
    assert decision.route_class == "fallback_safe", decision.signals["keywords"]


def test_keywords_inside_system_reminders_are_ignored() -> None:
    text = "<system-reminder>summarize the architecture and plan</system-reminder>\nhello there"
    assert classify(with_user_text(claude("messages_stream_text_turn"), text)).route_class == "fallback_safe"


def test_keywords_in_older_turns_are_ignored() -> None:
    req = with_user_text(claude("messages_stream_text_turn"), "summarize this file")
    assert classify(append_turn(req, "Done.", "thanks, go on")).route_class == "fallback_safe"


def test_keyword_confidence_short_long_and_conflicting() -> None:
    base = claude("messages_stream_text_turn")
    assert classify(with_user_text(base, "summarize the diff")).confidence == 0.7
    assert classify(with_user_text(base, "summarize the diff " + "x " * 1500)).confidence == 0.4
    both = classify(with_user_text(base, "summarize the architecture"))
    assert both.route_class == "deep_reasoning" and both.confidence == 0.55
    keywords = both.signals["keywords"]
    assert isinstance(keywords, dict) and set(keywords) == {"deep_reasoning", "summary"}


def test_keyword_table_has_no_duplicates_and_is_lowercase() -> None:
    phrases = [p for _, group in KEYWORDS for p in group]
    assert len(phrases) == len(set(phrases))
    assert all(p == p.lower().strip() for p in phrases)


# --- token estimate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["count_tokens_with_tools", "messages_tool_result_turn2", "messages_stream_text_turn"]
)
def test_token_estimate_counts_tool_schemas_and_tracks_the_json_estimate(name: str) -> None:
    body = json.loads((CLIENTS / "claude-code" / f"{name}.json").read_text())["request"]["body"]
    req = claude(name)
    fast = estimate_tokens(req)
    reference = estimate_request_tokens(body)
    assert abs(fast - reference) / reference < 0.15
    no_tools = estimate_tokens(dataclasses.replace(req, tools=[]))
    if req.tools:
        assert fast - no_tools > 1_000  # Claude Code's tool schemas are thousands of tokens
    assert estimate_tokens(req) == fast  # the schema-size cache gives the same answer
