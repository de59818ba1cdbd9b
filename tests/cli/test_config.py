"""The layered config loader: precedence, merging and the wording of every error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.core.config import (
    CacheSettings,
    CompactionSettings,
    ConfigError,
    ResponseCacheSettings,
    RoutingSettings,
    TelemetrySettings,
    Timeouts,
)


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_defaults_when_nothing_is_configured(paths: Paths) -> None:
    config = load_config(env={}, paths=paths)
    assert (config.host, config.port) == ("127.0.0.1", 8787)
    assert config.timeouts == Timeouts()
    assert config.sources == ()


def test_each_layer_overrides_the_one_below(paths: Paths) -> None:
    cwd = Path.cwd()
    user = write(paths.user_config_file, {"port": 1001, "log_level": "debug", "graceful_timeout": 1})
    first = write(cwd / "gateway.config.json", {"port": 1002, "log_level": "warning"})
    second = write(cwd / "stackbilt.gateway.json", {"port": 1003})
    env = {"STACKBILT_GATEWAY_PORT": "1004"}

    assert load_config(env={}, paths=paths, cwd=cwd / "nowhere").port == 1001
    config = load_config(env={}, paths=paths)
    assert config.port == 1003  # stackbilt.gateway.json beats gateway.config.json
    assert config.log_level == "warning"  # cwd file beats user file
    assert config.graceful_timeout == 1.0  # user file beats defaults
    assert config.sources == (user, first, second)
    assert load_config(env=env, paths=paths).port == 1004
    assert load_config(env=env, paths=paths, cli={"port": 1005}).port == 1005
    assert load_config(env=env, paths=paths, cli={"port": None}).port == 1004


def test_host_from_env_and_cli(paths: Paths) -> None:
    assert load_config(env={"STACKBILT_GATEWAY_HOST": "::1"}, paths=paths).host == "::1"
    config = load_config(env={"STACKBILT_GATEWAY_HOST": "::1"}, paths=paths, cli={"host": "[::1]"})
    assert config.host == "::1"
    assert load_config(env={}, paths=paths, cli={"host": "0.0.0.0"}).host == "0.0.0.0"


def test_nested_objects_merge_per_key(paths: Paths) -> None:
    write(
        paths.user_config_file,
        {
            "timeouts": {"connect": 5, "idle": 7},
            "providers": {"groq": {"base_url": "https://groq.example/v1"}},
            "model_map": {"a": "groq/m1", "b": "groq/m2"},
        },
    )
    write(
        Path("gateway.config.json"),
        {
            "timeouts": {"idle": 9},
            "providers": {"groq": {"enabled": False}, "ollama": {"base_url": "http://box:11434/v1/"}},
            "model_map": {"b": "openai/gpt-x"},
        },
    )
    config = load_config(env={}, paths=paths)
    assert config.timeouts == Timeouts(connect=5.0, first_byte=600.0, idle=9.0)
    assert config.providers["groq"].base_url == "https://groq.example/v1"
    assert config.providers["groq"].enabled is False
    assert config.providers["ollama"].base_url == "http://box:11434/v1"
    assert config.model_map == {"a": "groq/m1", "b": "openai/gpt-x"}


def test_provider_base_url_env_override(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"providers": {"groq": {"base_url": "https://file.example"}}})
    config = load_config(env={"STACKBILT_GROQ_BASE_URL": "https://env.example/v1/"}, paths=paths)
    assert config.providers["groq"].base_url == "https://env.example/v1"
    with pytest.raises(ConfigError) as err:
        load_config(env={"STACKBILT_GROQ_BASE_URL": "ftp://nope"}, paths=paths)
    assert str(err.value) == 'STACKBILT_GROQ_BASE_URL: expected an http:// or https:// URL, got "ftp://nope"'


def test_unknown_key_names_file_and_dotted_key_with_suggestion(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"timeouts": {"conect": 5}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value) == (
        'gateway.config.json: "timeouts.conect" is not a known setting (did you mean "timeouts.connect"?)'
    )


def test_unknown_key_in_user_file_names_its_path(paths: Paths) -> None:
    write(paths.user_config_file, {"analytics": {"db_path": "x.sqlite"}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value) == f'{paths.user_config_file}: "analytics" is not a known setting'


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5"])
def test_bad_port_from_env(paths: Paths, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"STACKBILT_GATEWAY_PORT": value}, paths=paths)
    assert str(err.value) == f'STACKBILT_GATEWAY_PORT: expected an integer 1-65535, got "{value}"'


@pytest.mark.parametrize("value", ["9000", True, 70000, 1.5, None])
def test_bad_port_in_file(paths: Paths, value: object) -> None:
    write(Path("stackbilt.gateway.json"), {"port": value})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value).startswith('stackbilt.gateway.json: "port": expected an integer 1-65535, got ')


def test_bad_port_from_cli(paths: Paths) -> None:
    with pytest.raises(ConfigError, match=r'^--port: expected an integer 1-65535, got "x"$'):
        load_config(env={}, paths=paths, cli={"port": "x"})


def test_bad_nested_value(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"timeouts": {"connect": "fast"}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value) == (
        'gateway.config.json: "timeouts.connect": expected a number of seconds > 0, got "fast"'
    )


def test_malformed_json_reports_line_and_column(paths: Paths) -> None:
    write(Path("gateway.config.json"), '{\n  "port": 9000,\n  "host": \n}\n')
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value).startswith("gateway.config.json: invalid JSON at line 4, column 1:")


def test_top_level_must_be_an_object(paths: Paths) -> None:
    write(Path("gateway.config.json"), "[1, 2]")
    with pytest.raises(ConfigError, match=r"gateway\.config\.json: expected a JSON object"):
        load_config(env={}, paths=paths)


def test_unknown_provider_lists_known_ones(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"providers": {"grok": {"base_url": "https://x"}}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    message = str(err.value)
    assert message.startswith('gateway.config.json: "providers.grok" is not a known provider')
    assert 'did you mean "groq"?' in message
    assert "anthropic" in message and "openrouter" in message


@pytest.mark.parametrize("key", ["api_key", "apiKey", "token"])
def test_provider_key_in_config_is_refused(paths: Paths, key: str) -> None:
    write(Path("gateway.config.json"), {"providers": {"groq": {key: "gsk_secret"}}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    message = str(err.value)
    assert f'"providers.groq.{key}"' in message
    assert "stackbilt-gw keys set groq" in message
    assert "gsk_secret" not in message


def test_gateway_key_in_config_is_refused(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"gateway_key": "sgw-x"})
    with pytest.raises(ConfigError, match="stackbilt-gw key"):
        load_config(env={}, paths=paths)


@pytest.mark.parametrize(
    "target",
    ["llama-3.3", "nope/llama", "groq/", 42, "/model"],
    ids=["no-slash", "bad", "empty", "int", "lead"],
)
def test_model_map_values_must_be_provider_slash_model(paths: Paths, target: object) -> None:
    write(Path("gateway.config.json"), {"model_map": {"claude-haiku-4-5": target}})
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value).startswith(
        'gateway.config.json: "model_map.claude-haiku-4-5": expected "provider/model" with provider one of'
    )


def test_model_map_keys_may_contain_dots_and_targets_slashes(paths: Paths) -> None:
    write(
        Path("gateway.config.json"),
        {"model_map": {"gpt-4.1": "openrouter/meta-llama/llama-3.3-70b", "x": "cloudflare/@cf/meta/m"}},
    )
    config = load_config(env={}, paths=paths)
    assert config.model_map == {
        "gpt-4.1": "openrouter/meta-llama/llama-3.3-70b",
        "x": "cloudflare/@cf/meta/m",
    }


def test_section_must_be_an_object(paths: Paths) -> None:
    write(Path("gateway.config.json"), {"timeouts": 5})
    with pytest.raises(ConfigError, match=r'^gateway.config.json: "timeouts": expected an object, got 5$'):
        load_config(env={}, paths=paths)


def test_utf8_bom_is_accepted(paths: Paths) -> None:
    Path("gateway.config.json").write_bytes(b'\xef\xbb\xbf{"port": 9100}')
    assert load_config(env={}, paths=paths).port == 9100


def test_empty_env_values_are_ignored(paths: Paths) -> None:
    assert (
        load_config(env={"STACKBILT_GATEWAY_PORT": "", "STACKBILT_GATEWAY_HOST": " "}, paths=paths).port
        == 8787
    )


# --- routing, routes, models, prices, telemetry (issue 4) ------------------------------------


def test_routing_and_telemetry_defaults(paths: Paths) -> None:
    config = load_config(env={}, paths=paths)
    assert config.routing == RoutingSettings()
    assert config.routing.long_context_tokens == 100_000
    assert not config.routing.allow_experimental
    assert config.telemetry == TelemetrySettings(retention_days=90, store_prompts=False, db_path=None)
    assert (config.routes, config.models, config.prices) == ({}, {}, {})


def test_cache_and_compaction_defaults_and_values(paths: Paths) -> None:
    defaults = load_config(env={}, paths=paths)
    assert defaults.cache == CacheSettings(True, ResponseCacheSettings(False, 3600, 1000, 50 * 1024 * 1024))
    assert defaults.compaction == CompactionSettings("auto", 32)
    write(
        paths.user_config_file,
        {
            "cache": {"prefix_markers": False, "responses": {"enabled": True, "ttl_seconds": 600}},
            "compaction": {"model": "groq/llama-3.1-8b-instant"},
        },
    )
    write(
        Path("gateway.config.json"),
        {"cache": {"responses": {"max_entries": 50}}, "compaction": {"max_chunks": 4}},
    )
    config = load_config(env={}, paths=paths)
    assert config.cache == CacheSettings(False, ResponseCacheSettings(True, 600, 50, 50 * 1024 * 1024))
    assert config.compaction == CompactionSettings("groq/llama-3.1-8b-instant", 4)


def test_routing_telemetry_routes_models_prices_are_read(paths: Paths) -> None:
    write(
        paths.user_config_file,
        {
            "routing": {"long_context_tokens": 50_000, "allow_experimental": True, "min_confidence": 0.7},
            "routes": {"summary": ["groq/llama-3.1-8b-instant", "requested"]},
            "models": {"groq/openai/gpt-oss-120b": {"claude_code_safe": True, "context_window": 65536}},
            "prices": {"deepseek/deepseek-chat": {"input_per_mtok": 0.27, "output_per_mtok": 1.1}},
            "telemetry": {"retention_days": 30, "store_prompts": True},
        },
    )
    write(Path("gateway.config.json"), {"telemetry": {"db_path": ".stackbilt/gateway/events.sqlite"}})
    config = load_config(env={}, paths=paths)
    assert config.routing == RoutingSettings(50_000, True, False, 0.7)
    assert config.routes == {"summary": ("groq/llama-3.1-8b-instant", "requested")}
    assert config.models == {"groq/openai/gpt-oss-120b": {"claude_code_safe": True, "context_window": 65536}}
    assert config.prices == {"deepseek/deepseek-chat": {"input_per_mtok": 0.27, "output_per_mtok": 1.1}}
    assert config.telemetry.retention_days == 30 and config.telemetry.store_prompts
    # the seed's project-relative path is accepted and anchored at the working directory
    assert config.telemetry.db_path == Path.cwd() / ".stackbilt/gateway/events.sqlite"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"routes": {"sumary": ["requested"]}},
            '"routes.sumary": unknown route class (did you mean "summary"?)',
        ),
        ({"routes": {"summary": []}}, '"routes.summary": expected a list of "provider/model" targets'),
        ({"routes": {"summary": ["nowhere/x"]}}, '"routes.summary": expected a list of "provider/model"'),
        (
            {"models": {"groq/x": {"toolz": True}}},
            '"models.groq/x.toolz": is not a known model field (known: context_window',
        ),
        (
            {"models": {"groq/x": {"codex_safe": "maybe"}}},
            '"models.groq/x.codex_safe": expected true, false or "experimental"',
        ),
        ({"models": {"grok/x": {"tools": True}}}, "\"models.grok/x\": unknown provider 'grok'"),
        (
            {"models": {"groq/x": {"context_window": 0}}},
            '"models.groq/x.context_window": expected a positive',
        ),
        (
            {"prices": {"groq/x": {"input_per_mtok": 1}}},
            '"prices.groq/x.output_per_mtok": is required',
        ),
        (
            {"prices": {"groq/x": {"input_per_mtok": 1, "output_per_mtok": -2}}},
            '"prices.groq/x.output_per_mtok": expected a number >= 0',
        ),
        (
            {"prices": {"groq/x": {"input_per_mtok": 1, "output_per_mtok": 2, "cache": 1}}},
            '"prices.groq/x.cache": is not a known price field',
        ),
        (
            {"routing": {"long_context_tokens": 10}},
            '"routing.long_context_tokens": expected an integer >= 1000',
        ),
        ({"routing": {"min_confidence": 2}}, '"routing.min_confidence": expected a number from 0 to 1'),
        ({"routing": {"allow_experimantal": True}}, '"routing.allow_experimantal" is not a known setting'),
        ({"telemetry": {"retention_days": 0}}, '"telemetry.retention_days": expected an integer 1-36500'),
        ({"telemetry": {"store_prompts": "yes"}}, '"telemetry.store_prompts": expected true or false'),
        ({"telemetry": {"db_path": "/tmp/x.txt"}}, '"telemetry.db_path": expected a path to a .sqlite'),
        ({"cache": {"prefix_markers": 1}}, '"cache.prefix_markers": expected true or false'),
        ({"cache": {"responses": True}}, '"cache.responses": expected an object'),
        (
            {"cache": {"responses": {"ttl_seconds": 0}}},
            '"cache.responses.ttl_seconds": expected an integer >= 1',
        ),
        (
            {"cache": {"responses": {"enable": True}}},
            '"cache.responses.enable" is not a known setting (did you mean "cache.responses.enabled"?)',
        ),
        (
            {"cache": {"responses": {"max_bytes": 10}}},
            '"cache.responses.max_bytes": expected an integer >= 1024',
        ),
        ({"compaction": {"model": "cheap"}}, '"compaction.model": expected "auto" or "provider/model"'),
        ({"compaction": {"model": "nowhere/x"}}, '"compaction.model": expected "auto" or "provider/model"'),
        ({"compaction": {"max_chunks": 0}}, '"compaction.max_chunks": expected an integer 1-1000'),
    ],
)
def test_issue4_settings_are_validated_with_their_key_path(
    paths: Paths, data: dict[str, Any], message: str
) -> None:
    write(Path("gateway.config.json"), data)
    with pytest.raises(ConfigError) as err:
        load_config(env={}, paths=paths)
    assert str(err.value).startswith("gateway.config.json: "), str(err.value)
    assert message in str(err.value)
