"""``providers.<name>.translate_wire``: which OpenAI wire translated requests use. Validated when
the config is loaded (a bad value or a provider without an OpenAI wire names the key), defaulting
to Responses for ``openai`` and Chat for the OpenAI-compatible hosts, and followed end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.core.config import Config, ConfigError, ProviderSettings
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import upstream_env
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread


def _load(tmp_path: Path, providers: dict[str, object]) -> Config:
    cwd = tmp_path / "project"
    cwd.mkdir(exist_ok=True)
    (cwd / "gateway.config.json").write_text(json.dumps({"providers": providers}))
    return load_config(env={}, cwd=cwd)


def test_translate_wire_is_read_per_provider(tmp_path: Path, isolated_home: Path) -> None:
    config = _load(tmp_path, {"openai": {"translate_wire": "chat"}, "groq": {"translate_wire": "responses"}})
    assert config.providers["openai"].translate_wire == "chat"
    assert config.providers["groq"].translate_wire == "responses"


@pytest.mark.parametrize("value", ["soap", "", "Responses", 1, None, ["chat"]])
def test_a_bad_translate_wire_is_a_config_error_naming_the_key(
    tmp_path: Path, isolated_home: Path, value: object
) -> None:
    with pytest.raises(ConfigError, match=r'"providers\.openai\.translate_wire".*"responses" or "chat"'):
        _load(tmp_path, {"openai": {"translate_wire": value}})


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "vertex"])
def test_translate_wire_on_a_provider_without_an_openai_wire_is_refused(
    tmp_path: Path, isolated_home: Path, provider: str
) -> None:
    with pytest.raises(ConfigError, match=rf'"providers\.{provider}\.translate_wire".*no OpenAI wire'):
        _load(tmp_path, {provider: {"translate_wire": "chat"}})


@pytest.fixture(scope="module")
def chat_gateway(fake_upstream: FakeUpstream) -> Iterator[GatewayThread]:
    config = Config(providers={"openai": ProviderSettings(translate_wire="chat")})
    gw = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    yield gw
    gw.stop()


@pytest.mark.e2e
def test_openai_translate_wire_chat_sends_anthropic_clients_to_chat_completions(
    upstream: FakeUpstream, chat_gateway: GatewayThread
) -> None:
    body = {
        "model": "openai/gpt-5.5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi there"}],
    }
    headers = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
    r = httpx.post(f"{chat_gateway.url}/v1/messages", json=body, headers=headers, timeout=20)
    assert r.status_code == 200, r.text
    assert r.json()["content"][0]["text"] == "FAKE_REPLY 2 words. Done."
    (call,) = upstream.calls("/chat/completions")
    assert call.body["model"] == "gpt-5.5" and not upstream.calls("/responses")
