"""Small OS helpers for the desktop processes: opening a file, detecting a graphical session.

Owns ``open_path`` (``os.startfile`` / ``open`` / ``xdg-open``) and ``graphical_session`` (is
there a display to draw on, and if not, why). Nothing GUI-toolkit specific lives here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

NO_DISPLAY_HINT = (
    "no graphical session: DISPLAY / WAYLAND_DISPLAY is not set. The tray and the dashboard window "
    "need a desktop; on a server use `stackbilt-gw start` / `status` / `logs` instead"
)


def graphical_session(env: Mapping[str, str] | None = None) -> str | None:
    """None when a display is available, else a message explaining why not."""
    env = os.environ if env is None else env
    if sys.platform in ("win32", "darwin"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY_HINT


def open_path(path: str) -> None:
    """Open ``path`` with the desktop's default application (raises OSError when impossible)."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined,unused-ignore]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(opener) is None:
        raise OSError(f"{opener} is not installed")
    subprocess.Popen(
        [opener, path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
