"""The one registry of wires: every protocol has one ``Wire`` with both sides, and the pieces
that used to be kept per protocol in several places are each kept once."""

from __future__ import annotations

import json

import pytest

from stackbilt_gateway.daemon.core.errors import RateLimited, UpstreamOverloaded
from stackbilt_gateway.daemon.core.providers import builtin_providers
from stackbilt_gateway.daemon.wires.registry import TRANSLATABLE, WIRES, translation_wire

ERROR_BODIES = {
    "anthropic": {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    "chat": {"error": {"type": "rate_limit_exceeded", "message": "slow down", "code": "rate_limit_exceeded"}},
    "responses": {"error": {"type": "rate_limit_exceeded", "message": "slow down", "code": None}},
}


def test_every_client_protocol_has_a_wire_with_both_sides() -> None:
    assert set(WIRES) == {"anthropic", "chat", "responses", "gemini"}
    for name, wire in WIRES.items():
        assert wire.name == name and wire.renderer.protocol == name
        assert wire.upstream_path.startswith("/")
        tap = wire.make_tap()
        tap.feed(b"")
        tap.close()
        assert not tap.finished
    assert set(TRANSLATABLE) == {"anthropic", "chat", "responses", "gemini"}


@pytest.mark.parametrize("name", sorted(ERROR_BODIES))
@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "2500"}, 2.5),
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "9", "retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_upstream_429_retry_after_is_read_once_the_same_way_by_every_wire(
    name: str, headers: dict[str, str], seconds: float | None
) -> None:
    body = json.dumps(ERROR_BODIES[name]).encode()
    err = WIRES[name].upstream_error(429, body, headers, "p")
    assert isinstance(err, RateLimited)
    assert err.retry_after == seconds and err.message == "slow down" and err.provider == "p"


@pytest.mark.parametrize("name", sorted(WIRES))
def test_an_unreadable_error_body_still_maps_by_status(name: str) -> None:
    err = WIRES[name].upstream_error(529, b"<html>overloaded</html>", {}, "p")
    assert isinstance(err, UpstreamOverloaded) and err.status == 529 and "overloaded" in err.message


def test_translation_wire_follows_the_providers_preference() -> None:
    specs = builtin_providers()
    assert translation_wire(specs["anthropic"])[0].name == "anthropic"
    assert translation_wire(specs["groq"])[0].name == "chat"
    assert translation_wire(specs["openai"])[0].name == "responses"  # its translate_wire default
    for spec in specs.values():
        wire, codec = translation_wire(spec)
        assert wire.codec is codec and wire.name in spec.wires


def test_the_anthropic_stop_reason_table_is_kept_once() -> None:
    from stackbilt_gateway.daemon.wires.anthropic import response, upstream_stream

    assert upstream_stream.STOP_REASONS is response.STOP_REASONS
    assert response.STOP_REASONS["model_context_window_exceeded"] == "context_window_exceeded"


@pytest.mark.parametrize(
    ("provider", "setting", "expected"),
    [
        ("openai", None, "responses"),
        ("openai", "chat", "chat"),
        ("groq", None, "chat"),
        ("groq", "responses", "responses"),
    ],
)
def test_translate_wire_in_the_config_chooses_the_openai_wire(
    provider: str, setting: str | None, expected: str
) -> None:
    from stackbilt_gateway.daemon.core.config import Config, ProviderSettings
    from stackbilt_gateway.daemon.upstream.targets import Providers

    config = Config(providers={provider: ProviderSettings(translate_wire=setting)})
    providers = Providers.resolve_all(config, {})
    for target in (providers.target(provider, "m"), providers.resolve(f"{provider}/m")):
        wire, codec = translation_wire(target.spec)
        assert wire.name == expected and wire.codec is codec
