"""The routing mode (``shadow`` or ``live``), persisted in the state directory.

Shadow (the default) serves every turn from the route the client asked for and only records
what routing would have done; live serves from the planned route. The last switch (tray,
dashboard, CLI, control endpoint) is persisted and wins over the config file's ``mode``, which
only sets the mode on a first run.

Owns ``parse_mode`` and ``ModeStore`` (the file format and atomic writes). Does not own what the
mode changes in routing (``routing``) nor the endpoint that switches it (``http``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Literal

Mode = Literal["shadow", "live"]
MODES: tuple[Mode, ...] = ("shadow", "live")
log = logging.getLogger(__name__)


def parse_mode(value: object) -> Mode:
    if value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {value!r}")
    return "live" if value == "live" else "shadow"


class ModeStore:
    """Thread-safe holder of the current mode, written atomically on every change."""

    def __init__(self, path: Path, default: Mode = "shadow") -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mode: Mode = self._read() or default

    def _read(self) -> Mode | None:
        try:
            return parse_mode(json.loads(self._path.read_text("utf-8")).get("mode"))
        except FileNotFoundError:
            return None
        except (ValueError, AttributeError, OSError) as exc:
            log.warning("ignoring unreadable mode file %s: %s", self._path, exc)
            return None

    @property
    def mode(self) -> Mode:
        return self._mode

    def set(self, mode: Mode) -> Mode:
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"mode": mode}), "utf-8")
            os.replace(tmp, self._path)
            self._mode = mode
        log.info("routing mode is now %s", mode)
        return mode
