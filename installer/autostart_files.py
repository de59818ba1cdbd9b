"""The text of every login start-up artefact, as pure functions (no I/O).

Owns the exact content and quoting of: the Linux XDG autostart ``.desktop`` entry (tray), the
optional ``systemd --user`` unit (daemon), the macOS LaunchAgent plist, and the Windows
``HKCU\\...\\Run`` command line. Paths with spaces, quotes, ``%`` and ``$`` are quoted per each
format's rules. Where these files go and how they are registered is ``installer.autostart``'s.
"""

from __future__ import annotations

import plistlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

APP_NAME = "StackBilt LLM Gateway"
DESKTOP_FILE_NAME = "stackbilt-gw-tray.desktop"
SYSTEMD_UNIT_NAME = "stackbilt-gw.service"
LAUNCH_AGENT_LABEL = "com.stackbilt.llm-gateway.tray"
WINDOWS_RUN_VALUE = "StackBilt LLM Gateway"

# Characters that force quoting of an Exec argument (Desktop Entry Specification, "Exec key").
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _desktop_exec_arg(arg: str) -> str:
    """One Exec argument: quoted when needed; ``%`` doubled (field codes)."""
    arg = arg.replace("%", "%%")
    if not arg or any(c in _DESKTOP_RESERVED for c in arg):
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        arg = f'"{inner}"'
    return arg


def _desktop_string(value: str) -> str:
    """Escape a value for a .desktop file's ``string`` type (backslash, newlines)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def desktop_exec(argv: Sequence[str]) -> str:
    """The ``Exec=`` value for ``argv`` (already escaped for the file)."""
    return _desktop_string(" ".join(_desktop_exec_arg(a) for a in argv))


def desktop_entry(argv: Sequence[str], icon: Path | None = None) -> str:
    """The XDG autostart entry that starts the tray at login."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        f"Name={APP_NAME}",
        "Comment=Local LLM gateway for coding agents (tray)",
        f"Exec={desktop_exec(argv)}",
        f"Icon={_desktop_string(str(icon))}" if icon else "Icon=network-server",
        "Terminal=false",
        "Categories=Development;",
        "X-GNOME-Autostart-enabled=true",
        "X-GNOME-Autostart-Delay=5",
    ]
    return "\n".join(lines) + "\n"


def _systemd_arg(arg: str) -> str:
    """One ExecStart argument: specifiers (``%``) and variables (``$``) escaped, quoted if needed."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if not arg or any(c.isspace() or c in "\"'\\;" for c in arg):
        inner = arg.replace("\\", "\\\\").replace('"', '\\"')
        arg = f'"{inner}"'
    return arg


def systemd_unit(argv: Sequence[str]) -> str:
    """A ``systemd --user`` unit that keeps the daemon running (restarted on failure)."""
    return "\n".join(
        [
            "[Unit]",
            f"Description={APP_NAME} daemon",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={' '.join(_systemd_arg(a) for a in argv)}",
            "Restart=on-failure",
            "RestartSec=5",
            "TimeoutStopSec=75",
            "KillSignal=SIGTERM",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )


def launch_agent(argv: Sequence[str], log_file: Path) -> bytes:
    """The macOS LaunchAgent plist (XML) that starts the tray in the user's GUI session."""
    return plistlib.dumps(
        {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": [str(a) for a in argv],
            "RunAtLoad": True,
            "KeepAlive": False,
            "LimitLoadToSessionType": "Aqua",
            "ProcessType": "Interactive",
            "StandardOutPath": str(log_file),
            "StandardErrorPath": str(log_file),
        },
        fmt=plistlib.FMT_XML,
    )


def windows_run_command(argv: Sequence[str]) -> str:
    """The ``HKCU\\...\\Run`` value: the command line, quoted the way Windows parses it."""
    return subprocess.list2cmdline([str(a) for a in argv])
