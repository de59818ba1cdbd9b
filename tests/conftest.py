"""Shared test set-up: every test runs with its own gateway home and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Variables that would let a test read the developer's real keys or state.
_SCRUB_PREFIXES = ("STACKBILT_",)
_SCRUB_NAMES = {
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GROQ_API_KEY",
    "CEREBRAS_API_KEY",
    "CLOUDFLARE_API_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDFLARE_ACCOUNT_ID",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "OLLAMA_API_KEY",
    "LMSTUDIO_API_KEY",
}

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


@pytest.fixture(scope="session", autouse=True)
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """HOME and the XDG directories point at a temporary folder for the whole session, so no
    process a test starts (a daemon, a client, a keyring) can write to the real user's home."""
    root = tmp_path_factory.mktemp("user-home")
    names = {
        "HOME": root,
        "XDG_DATA_HOME": root / ".local" / "share",
        "XDG_CONFIG_HOME": root / ".config",
        "XDG_STATE_HOME": root / ".local" / "state",
        "XDG_CACHE_HOME": root / ".cache",
    }
    saved = {name: os.environ.get(name) for name in names}
    for name, path in names.items():
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every gateway path at tmp_path and run in a clean working directory."""
    for name in list(os.environ):
        if name in _SCRUB_NAMES or name.startswith(_SCRUB_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "gw-home"
    monkeypatch.setenv("STACKBILT_GATEWAY_HOME", str(home))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield home
