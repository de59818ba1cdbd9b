"""The user's configuration as the client processes (CLI, tray) see it.

Owns loading the layered configuration on a client's behalf (``load_settings``: the same layers
the daemon reads, plus a command's ``--port`` / ``--host``) and the shutdown grace a ``stop``
waits for (``graceful_timeout``: the configured value, or the default when the configuration is
broken, because a broken file must never prevent stopping). ``Config`` and ``ConfigError`` are
named here so a client needs nothing else to read settings or report a bad file.

Does not own the layers, validation or defaults (``config_load``, ``core.config``) nor what the
daemon does with its settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config_load import load_config
from ..core.config import Config, ConfigError
from .paths import Paths

__all__ = ["Config", "ConfigError", "graceful_timeout", "load_settings"]


def load_settings(
    env: Mapping[str, str], paths: Paths, *, port: str | None = None, host: str | None = None
) -> Config:
    """The effective configuration; ``port`` / ``host`` are command-line values (None: not given).

    Raises ``ConfigError`` naming the file or variable and the bad key.
    """
    return load_config(cli={"port": port, "host": host}, env=env, paths=paths)


def graceful_timeout(env: Mapping[str, str], paths: Paths) -> float:
    """Seconds the daemon gives in-flight requests on shutdown (the default if the config is broken)."""
    try:
        return load_settings(env, paths).graceful_timeout
    except ConfigError:
        return Config().graceful_timeout
