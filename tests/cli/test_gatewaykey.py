"""The gateway's own client key: created once, private, overridable, never guessable."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.control.gatewaykey import (
    ENV_GATEWAY_KEY,
    keys_equal,
    load_or_create_gateway_key,
    read_gateway_key,
)
from stackbilt_gateway.daemon.control.paths import Paths, resolve_paths


def test_generated_once_and_stable(paths: Paths) -> None:
    assert read_gateway_key(paths, {}) is None
    key, source = load_or_create_gateway_key(paths, {})
    assert key.startswith("sgw-") and len(key) >= 40
    assert source == f"file {paths.gateway_key_file} (created)"
    again, source2 = load_or_create_gateway_key(paths, {})
    assert again == key
    assert source2 == f"file {paths.gateway_key_file}"
    assert paths.gateway_key_file.read_text().strip() == key
    assert read_gateway_key(paths, {}) == (key, source2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_file_is_private(paths: Paths) -> None:
    load_or_create_gateway_key(paths, {})
    assert stat.S_IMODE(paths.gateway_key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.config_dir.stat().st_mode) == 0o700


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_loose_permissions_are_tightened(paths: Paths) -> None:
    key, _ = load_or_create_gateway_key(paths, {})
    paths.gateway_key_file.chmod(0o644)
    assert load_or_create_gateway_key(paths, {})[0] == key
    assert stat.S_IMODE(paths.gateway_key_file.stat().st_mode) == 0o600


def test_env_overrides_file(paths: Paths) -> None:
    load_or_create_gateway_key(paths, {})
    key, source = load_or_create_gateway_key(paths, {ENV_GATEWAY_KEY: " from-env "})
    assert key == "from-env"
    assert source == f"environment ({ENV_GATEWAY_KEY})"


def test_env_key_does_not_create_a_file(paths: Paths) -> None:
    load_or_create_gateway_key(paths, {ENV_GATEWAY_KEY: "k"})
    assert not paths.gateway_key_file.exists()


def test_blank_file_is_replaced(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.gateway_key_file.write_text("\n")
    key, _ = load_or_create_gateway_key(paths, {})
    assert key.startswith("sgw-")
    assert paths.gateway_key_file.read_text().strip() == key


def test_two_fresh_homes_get_different_keys(tmp_path: Path) -> None:
    a = resolve_paths({"STACKBILT_GATEWAY_HOME": str(tmp_path / "a")})
    b = resolve_paths({"STACKBILT_GATEWAY_HOME": str(tmp_path / "b")})
    assert load_or_create_gateway_key(a, {})[0] != load_or_create_gateway_key(b, {})[0]
    assert not list(a.config_dir.glob(".*.tmp"))  # no temp files left behind


def test_keys_equal() -> None:
    assert keys_equal("sgw-abc", "sgw-abc")
    assert not keys_equal("sgw-abc", "sgw-abd")
    assert not keys_equal("sgw-abc", "")
    assert keys_equal("clé", "clé")
