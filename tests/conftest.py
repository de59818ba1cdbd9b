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
    "CLOUDFLARE_ACCOUNT_ID",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "OLLAMA_API_KEY",
    "LMSTUDIO_API_KEY",
}

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


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
