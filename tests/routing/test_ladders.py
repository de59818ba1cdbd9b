"""Tier ladders: shipped families, config overrides, steps, and malformed ladders refused."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.routing.ladders import LadderError, load_ladders, validate_ladder


def test_shipped_anthropic_and_openai_ladders_step_down_one_tier_or_to_the_bottom() -> None:
    ladders = load_ladders()
    assert ladders.step("anthropic/claude-opus-4-6", "cheaper") == "anthropic/claude-sonnet-4-6"
    assert ladders.step("anthropic/claude-opus-4-6", "cheapest") == "anthropic/claude-haiku-4-5"
    assert ladders.step("anthropic/claude-sonnet-4-5", "cheaper") == "anthropic/claude-haiku-4-5"
    assert ladders.step("openai/gpt-5.5", "cheaper") == "openai/gpt-5.4-mini"
    assert ladders.step("openai/gpt-5.5", "cheapest") == "openai/gpt-5.4-nano"


def test_the_bottom_tier_and_unknown_models_have_no_cheaper_tier() -> None:
    ladders = load_ladders()
    assert ladders.step("anthropic/claude-haiku-4-5", "cheaper") is None
    assert ladders.step("anthropic/claude-haiku-4-5", "cheapest") is None
    assert ladders.step("groq/llama-3.1-8b-instant", "cheaper") is None


def test_a_dated_model_id_finds_its_tier() -> None:
    assert (
        load_ladders().step("anthropic/claude-sonnet-4-5-20250929", "cheaper") == "anthropic/claude-haiku-4-5"
    )


def test_a_config_ladder_replaces_the_family() -> None:
    ladders = load_ladders({"anthropic-4": [["anthropic/claude-opus-4-6"], ["anthropic/claude-haiku-4-5"]]})
    assert ladders.step("anthropic/claude-opus-4-6", "cheaper") == "anthropic/claude-haiku-4-5"
    assert ladders.step("anthropic/claude-sonnet-4-6", "cheaper") is None  # no longer on a ladder


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ([["a/b"]], "ladders.x"),
        ("a/b", "ladders.x"),
        ([["a/b"], []], "ladders.x[1]"),
        ([["a/b"], ["nope"]], "ladders.x[1][0]"),
        ([["a/b"], ["a/b"]], "ladders.x[1][0]"),
    ],
)
def test_malformed_ladders_name_the_path(raw: object, path: str) -> None:
    with pytest.raises(LadderError) as info:
        validate_ladder("x", raw)
    assert info.value.path == path
