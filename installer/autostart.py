"""Login start-up registration: enable, disable and report it, per OS.

Owns where the start-up artefacts live and how they are registered: Linux XDG autostart entry
(+ optional ``systemd --user`` unit for the daemon, enabled by its ``default.target.wants`` link),
macOS LaunchAgent (``launchctl bootstrap gui/$UID``), Windows ``HKCU\\...\\Run`` value (``winreg``,
behind the small ``Registry`` protocol so it can be tested anywhere). Every operation is
idempotent and reversible; the tray's "Start at login" checkbox and ``stackbilt-gw autostart``
call the same functions. File contents are ``installer.autostart_files``'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..daemon.control.paths import Paths
from . import autostart_files as files

TRAY_MODULE = "stackbilt_gateway.tray"
DAEMON_MODULE = "stackbilt_gateway.daemon"
ICON_NAME = "stackbilt-gw.png"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class Registry(Protocol):
    """The three operations on ``HKCU\\...\\Run`` that autostart needs."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...


class WinRegistry:
    """``Registry`` on the real Windows registry (HKCU Run key)."""

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise RuntimeError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _ = winreg.QueryValueEx(key, name)
        except OSError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise RuntimeError("the Windows registry exists only on Windows")
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> bool:
        if sys.platform != "win32":
            raise RuntimeError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Target:
    """Where and for whom to register: the OS, the home folder, the environment, the commands."""

    platform: str
    home: Path
    env: Mapping[str, str]
    tray_argv: tuple[str, ...]
    daemon_argv: tuple[str, ...]
    log_file: Path
    icon: Path | None = None
    registry: Registry | None = None
    # Call launchctl / systemctl after changing files (off in tests: no real session touched).
    run_tools: bool = True

    @classmethod
    def current(cls, env: Mapping[str, str], paths: Paths) -> Target:
        """This user and this installation (the running interpreter's scripts)."""
        home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
        return cls(
            platform=sys.platform,
            home=home,
            env=env,
            tray_argv=tuple(tray_command()),
            daemon_argv=(sys.executable, "-m", DAEMON_MODULE),
            log_file=paths.log_dir / "tray.log",
            icon=paths.data_dir / ICON_NAME,
            registry=WinRegistry() if sys.platform == "win32" else None,
        )

    @property
    def config_home(self) -> Path:
        xdg = self.env.get("XDG_CONFIG_HOME", "")
        return Path(xdg) if xdg else self.home / ".config"

    @property
    def desktop_file(self) -> Path:
        return self.config_home / "autostart" / files.DESKTOP_FILE_NAME

    @property
    def systemd_unit(self) -> Path:
        return self.config_home / "systemd" / "user" / files.SYSTEMD_UNIT_NAME

    @property
    def systemd_wants_link(self) -> Path:
        return self.config_home / "systemd" / "user" / "default.target.wants" / files.SYSTEMD_UNIT_NAME

    @property
    def launch_agent(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{files.LAUNCH_AGENT_LABEL}.plist"


def tray_command() -> list[str]:
    """How to start the tray from this installation (the gui script when it exists)."""
    scripts = Path(sys.executable).parent
    for name in ("stackbilt-gw-tray.exe", "stackbilt-gw-tray"):
        if (scripts / name).is_file():
            return [str(scripts / name)]
    python = Path(sys.executable)
    if sys.platform == "win32" and (python.parent / "pythonw.exe").is_file():
        python = python.parent / "pythonw.exe"  # no console window at login
    return [str(python), "-m", TRAY_MODULE]


@dataclass(slots=True)
class Status:
    """What is registered: ``entries`` maps an artefact to "enabled" / "outdated ..." / "absent"."""

    enabled: bool
    entries: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{where}: {state}" for where, state in self.entries.items()]


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _file_state(path: Path, expected: bytes) -> str:
    if not path.is_file():
        return "absent"
    return "enabled" if path.read_bytes() == expected else "outdated (run `stackbilt-gw autostart enable`)"


def _run_quiet(t: Target, argv: Sequence[str]) -> None:
    """Best-effort helper call (launchctl/systemctl): a missing tool or a failure is not fatal."""
    if not t.run_tools or shutil.which(argv[0]) is None:
        return
    try:
        subprocess.run(list(argv), capture_output=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass


def _write_icon(path: Path) -> None:
    """Render the app icon for the start-up entry once (skipped without Pillow)."""
    if path.is_file():
        return
    try:
        from ..tray.icons import render_app_icon

        image = render_app_icon()
    except ImportError:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _desktop_bytes(t: Target) -> bytes:
    return files.desktop_entry(t.tray_argv, t.icon).encode("utf-8")


def _unit_bytes(t: Target) -> bytes:
    return files.systemd_unit(t.daemon_argv).encode("utf-8")


def _plist_bytes(t: Target) -> bytes:
    return files.launch_agent(t.tray_argv, t.log_file)


def _run_value(t: Target) -> str:
    return files.windows_run_command(t.tray_argv)


def _registry(t: Target) -> Registry:
    if t.registry is None:
        raise RuntimeError("no registry access configured for this target")
    return t.registry


def enable(t: Target, *, systemd: bool = False) -> list[str]:
    """Register login start-up (idempotent); returns one line per action taken or skipped."""
    done: list[str] = []
    if t.platform == "win32":
        reg, value = _registry(t), _run_value(t)
        changed = reg.get(files.WINDOWS_RUN_VALUE) != value
        if changed:
            reg.set(files.WINDOWS_RUN_VALUE, value)
        done.append(f"HKCU\\{RUN_KEY}\\{files.WINDOWS_RUN_VALUE}: {'set' if changed else 'already set'}")
    elif t.platform == "darwin":
        changed = _write_if_changed(t.launch_agent, _plist_bytes(t))
        if changed:
            _run_quiet(t, ["launchctl", "bootstrap", f"gui/{os.getuid()}", str(t.launch_agent)])
        done.append(f"{t.launch_agent}: {'written' if changed else 'already up to date'}")
    else:
        if t.icon is not None:
            _write_icon(t.icon)
        changed = _write_if_changed(t.desktop_file, _desktop_bytes(t))
        done.append(f"{t.desktop_file}: {'written' if changed else 'already up to date'}")
        if systemd:
            changed = _write_if_changed(t.systemd_unit, _unit_bytes(t))
            link = t.systemd_wants_link
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(t.systemd_unit)
                changed = True
            if changed:
                _run_quiet(t, ["systemctl", "--user", "daemon-reload"])
            done.append(f"{t.systemd_unit}: {'enabled' if changed else 'already enabled'}")
    return done


def disable(t: Target) -> list[str]:
    """Remove every start-up artefact this module creates (idempotent)."""
    done: list[str] = []
    if t.platform == "win32":
        removed = _registry(t).delete(files.WINDOWS_RUN_VALUE)
        done.append(f"HKCU\\{RUN_KEY}\\{files.WINDOWS_RUN_VALUE}: {'removed' if removed else 'not set'}")
    elif t.platform == "darwin":
        if t.launch_agent.exists():
            _run_quiet(t, ["launchctl", "bootout", f"gui/{os.getuid()}/{files.LAUNCH_AGENT_LABEL}"])
            t.launch_agent.unlink()
            done.append(f"{t.launch_agent}: removed")
        else:
            done.append(f"{t.launch_agent}: not present")
    else:
        for path in (t.desktop_file, t.systemd_wants_link, t.systemd_unit):
            if path.is_symlink() or path.exists():
                path.unlink()
                done.append(f"{path}: removed")
            else:
                done.append(f"{path}: not present")
        if any(line.endswith("removed") and "systemd" in line for line in done):
            _run_quiet(t, ["systemctl", "--user", "daemon-reload"])
    return done


def status(t: Target) -> Status:
    """Whether the tray starts at login (and the daemon unit, on Linux), with details."""
    if t.platform == "win32":
        current = _registry(t).get(files.WINDOWS_RUN_VALUE)
        state = "absent" if current is None else "enabled" if current == _run_value(t) else "outdated"
        return Status(state != "absent", {f"HKCU\\{RUN_KEY}\\{files.WINDOWS_RUN_VALUE}": state})
    if t.platform == "darwin":
        state = _file_state(t.launch_agent, _plist_bytes(t))
        return Status(state != "absent", {str(t.launch_agent): state})
    entries = {str(t.desktop_file): _file_state(t.desktop_file, _desktop_bytes(t))}
    unit_state = _file_state(t.systemd_unit, _unit_bytes(t))
    if unit_state != "absent" and not t.systemd_wants_link.is_symlink():
        unit_state = "installed but not enabled"
    entries[str(t.systemd_unit)] = unit_state
    return Status(entries[str(t.desktop_file)] != "absent", entries)
