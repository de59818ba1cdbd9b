"""``daemon.control``'s client-side pieces the CLI and tray share: settings, providers, the lock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.control.lock import InstanceLock, is_locked
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.control.providers import find_provider, known_models, needs_key, provider_specs
from stackbilt_gateway.daemon.control.settings import ConfigError, graceful_timeout, load_settings


def test_load_settings_takes_command_line_port_and_host_over_the_files(paths: Paths) -> None:
    paths.ensure()
    paths.user_config_file.write_text(json.dumps({"port": 9100, "graceful_timeout": 5}))
    config = load_settings(dict(os.environ), paths)
    assert (config.host, config.port) == ("127.0.0.1", 9100)
    assert config.sources == (paths.user_config_file,)
    config = load_settings(dict(os.environ), paths, port="9200", host="::1")
    assert (config.host, config.port) == ("::1", 9200)


def test_load_settings_raises_config_error_naming_the_flag(paths: Paths) -> None:
    with pytest.raises(ConfigError, match="--port: expected an integer 1-65535"):
        load_settings(dict(os.environ), paths, port="0")


def test_graceful_timeout_is_configured_or_the_default_when_the_config_is_broken(paths: Paths) -> None:
    env = dict(os.environ)
    assert graceful_timeout(env, paths) == 60.0
    paths.ensure()
    paths.user_config_file.write_text(json.dumps({"graceful_timeout": 2.5}))
    assert graceful_timeout(env, paths) == 2.5
    paths.user_config_file.write_text("{broken")
    assert graceful_timeout(env, paths) == 60.0  # a broken file must never prevent stopping


def test_find_provider_ignores_case_and_spaces() -> None:
    spec = find_provider("  GROQ ")
    assert spec is not None and spec.name == "groq"
    assert find_provider("nope") is None
    assert "groq" in provider_specs() and "anthropic" in provider_specs()


def test_needs_key_only_for_providers_that_cannot_run_without_one() -> None:
    specs = provider_specs()
    assert needs_key(specs["anthropic"]) and needs_key(specs["groq"])
    keyless = [s for s in specs.values() if s.key_optional or s.auth == "none"]
    assert keyless and not any(needs_key(s) for s in keyless)


def test_known_models_come_from_the_shipped_catalogue() -> None:
    models = known_models("anthropic")
    assert models == sorted(models) and "claude-haiku-4-5" in models
    assert known_models("no-such-provider") == []


def test_try_acquire_answers_instead_of_raising(tmp_path: Path) -> None:
    path = tmp_path / "daemon.lock"
    first, second = InstanceLock(path), InstanceLock(path)
    assert first.try_acquire() and first.held and is_locked(path)
    assert second.try_acquire() is False and not second.held
    first.release()
    assert not is_locked(path)
    assert second.try_acquire() is True
    second.release()
