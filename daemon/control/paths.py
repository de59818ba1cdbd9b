"""Where the gateway keeps its files: config, data (SQLite), state (pidfile, key), logs.

Owns ``Paths`` (the four directories and the well-known files in them: user config, gateway
key, pidfile, daemon lock, daemon log) and ``resolve_paths``. Per-OS locations come from
platformdirs; ``STACKBILT_GATEWAY_HOME`` puts everything under one folder instead (portable
installs, tests). Does not own the files' contents or formats (their modules do).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "stackbilt-llm-gateway"
HOME_ENV = "STACKBILT_GATEWAY_HOME"


@dataclass(frozen=True, slots=True)
class Paths:
    config_dir: Path
    data_dir: Path
    state_dir: Path
    log_dir: Path

    @property
    def user_config_file(self) -> Path:
        return self.config_dir / "config.json"

    @property
    def gateway_key_file(self) -> Path:
        return self.config_dir / "gateway.key"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "daemon.pid"

    @property
    def lockfile(self) -> Path:
        return self.state_dir / "daemon.lock"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "daemon.log"

    def ensure(self) -> None:
        for d in (self.config_dir, self.data_dir, self.state_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "data", root / "state", root / "logs")
    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
