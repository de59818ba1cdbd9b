"""Login start-up: generated files validated by their own tools, idempotent and reversible;
the install/uninstall scripts' syntax, dry run, and a real registration into a temp HOME."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import xml.dom.minidom
from dataclasses import replace
from pathlib import Path

import pytest

from stackbilt_gateway.installer import autostart
from stackbilt_gateway.installer import autostart_files as files
from tests.desktop.conftest import CI_HINT

ROOT = Path(__file__).resolve().parents[2]
SPACED = ("/opt/Stack Bilt 100%/bin/python", "-m", "stackbilt_gateway.tray", "--poll", "$HOME")


class DictRegistry:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


def _target(tmp_path: Path, platform: str, registry: autostart.Registry | None = None) -> autostart.Target:
    return autostart.Target(
        platform=platform,
        home=tmp_path / "home dir",
        env={"XDG_CONFIG_HOME": str(tmp_path / "home dir" / ".config")},
        tray_argv=SPACED,
        daemon_argv=("/opt/Stack Bilt 100%/bin/python", "-m", "stackbilt_gateway.daemon"),
        log_file=tmp_path / "logs dir" / "tray.log",
        registry=registry,
        run_tools=False,
    )


def test_desktop_entry_validates_and_quotes(tmp_path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.fail(f"desktop-file-validate is missing: {CI_HINT}")
    t = _target(tmp_path, "linux")
    autostart.enable(t)
    out = subprocess.run([tool, str(t.desktop_file)], capture_output=True, text=True, timeout=30)
    assert "error" not in (out.stdout + out.stderr).lower(), out.stdout + out.stderr
    exec_line = next(x for x in t.desktop_file.read_text().splitlines() if x.startswith("Exec="))
    assert exec_line == 'Exec="/opt/Stack Bilt 100%%/bin/python" -m stackbilt_gateway.tray --poll "\\\\$HOME"'


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    python = tmp_path / "Stack Bilt 100%" / "python"  # a real executable behind a hard path
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    t = replace(_target(tmp_path, "linux"), daemon_argv=(str(python), "-m", "x"))
    autostart.enable(t, systemd=True)
    assert t.systemd_wants_link.resolve() == t.systemd_unit.resolve()
    text = t.systemd_unit.read_text()
    quoted = str(python).replace("%", "%%")
    assert f'ExecStart="{quoted}" -m x' in text
    assert "Restart=on-failure" in text
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("note: systemd-analyze not installed; unit text checked only")
        return
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    out = subprocess.run(
        [tool, "--user", "verify", str(t.systemd_unit)], capture_output=True, text=True, env=env, timeout=60
    )
    relevant = [
        line
        for line in out.stderr.splitlines()
        if t.systemd_unit.name in line or "Unknown" in line or "executable" in line.lower()
    ]
    assert out.returncode == 0 and not relevant, out.stderr


def test_launch_agent_plist_round_trip(tmp_path: Path) -> None:
    t = _target(tmp_path, "darwin")
    autostart.enable(t)
    data = plistlib.loads(t.launch_agent.read_bytes())
    assert data["Label"] == files.LAUNCH_AGENT_LABEL
    assert data["ProgramArguments"] == list(SPACED)
    assert data["RunAtLoad"] is True and data["KeepAlive"] is False
    assert data["LimitLoadToSessionType"] == "Aqua"
    assert Path(data["ProgramArguments"][0]).is_absolute()
    xml.dom.minidom.parseString(t.launch_agent.read_bytes())  # well-formed XML
    assert t.launch_agent.name == f"{files.LAUNCH_AGENT_LABEL}.plist"


def test_windows_run_value_quoting(tmp_path: Path) -> None:
    reg = DictRegistry()
    t = _target(tmp_path, "win32", reg)
    argv = (r"C:\Program Files\Stack Bilt\pythonw.exe", "-m", "stackbilt_gateway.tray", 'say "hi"')
    t = replace(t, tray_argv=argv)
    autostart.enable(t)
    value = reg.values[files.WINDOWS_RUN_VALUE]
    assert value == r'"C:\Program Files\Stack Bilt\pythonw.exe" -m stackbilt_gateway.tray "say \"hi\""'
    assert value == subprocess.list2cmdline(list(t.tray_argv))
    assert autostart.status(t).enabled
    autostart.disable(t)
    assert reg.values == {} and not autostart.status(t).enabled


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_enable_disable_idempotent_and_reversible(tmp_path: Path, platform: str) -> None:
    t = _target(tmp_path, platform, DictRegistry() if platform == "win32" else None)
    before = sorted(p for p in tmp_path.rglob("*"))
    assert not autostart.status(t).enabled
    first = autostart.enable(t, systemd=True)
    second = autostart.enable(t, systemd=True)
    assert any("written" in x or "set" in x or "enabled" in x for x in first)
    assert all("already" in x for x in second), second
    assert autostart.status(t).enabled
    autostart.disable(t)
    again = autostart.disable(t)
    assert all("not" in x for x in again), again
    assert not autostart.status(t).enabled
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p not in before]
    assert leftovers == []


def test_status_reports_outdated_entries(tmp_path: Path) -> None:
    t = _target(tmp_path, "linux")
    autostart.enable(t)
    moved = replace(t, tray_argv=("/new/venv/bin/stackbilt-gw-tray",))
    st = autostart.status(moved)
    assert st.enabled and "outdated" in st.entries[str(t.desktop_file)]


def test_cli_autostart_round_trip(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "h"), "XDG_CONFIG_HOME": str(tmp_path / "h" / "cfg")}
    cli = [sys.executable, "-m", "stackbilt_gateway.daemon.cli", "autostart"]

    def run(*args: str) -> str:
        out = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "disabled" in run("status")
    assert "written" in run("enable")
    assert "start at login: enabled" in run("status")
    assert (tmp_path / "h" / "cfg" / "autostart" / files.DESKTOP_FILE_NAME).is_file()
    run("disable")
    assert "start at login: disabled" in run("status")


# --- install / uninstall scripts ---------------------------------------------------------------

SCRIPTS = ROOT / "installer"


@pytest.mark.parametrize("name", ["install.sh", "uninstall.sh"])
def test_shell_scripts_parse(name: str) -> None:
    out = subprocess.run(["bash", "-n", str(SCRIPTS / name)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    if shutil.which("shellcheck"):
        sc = subprocess.run(["shellcheck", str(SCRIPTS / name)], capture_output=True, text=True, timeout=60)
        assert sc.returncode == 0, sc.stdout


def test_install_dry_run_prints_the_plan(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    prefix = tmp_path / "pre fix"
    out = subprocess.run(
        ["bash", str(SCRIPTS / "install.sh"), "--dry-run", "--prefix", str(prefix), "--systemd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    actions = [shlex.split(line[2:]) for line in out.stdout.splitlines() if line.startswith("+ ")]
    venv = str(prefix / "venv")
    assert actions[0][1:3] == ["-m", "venv"] and actions[0][-1] == venv
    assert [
        f"{venv}/bin/python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--upgrade",
        f"{ROOT}[desktop]",
    ] in actions
    assert [f"{venv}/bin/stackbilt-gw", "autostart", "enable", "--systemd"] in actions
    assert not prefix.exists(), "a dry run changes nothing"


def test_install_and_uninstall_register_for_real(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    venv = Path(sys.executable).parent.parent  # this test's venv stands in for the installed one
    bindir = tmp_path / "bin dir"
    common = ["--venv", str(venv), "--bin-dir", str(bindir)]
    out = subprocess.run(
        ["bash", str(SCRIPTS / "install.sh"), "--skip-install", *common],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    entry = home / ".config" / "autostart" / files.DESKTOP_FILE_NAME
    assert entry.is_file()
    assert (bindir / "stackbilt-gw").resolve() == (venv / "bin" / "stackbilt-gw").resolve()
    out = subprocess.run(
        ["bash", str(SCRIPTS / "uninstall.sh"), "--keep-venv", *common],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert not entry.exists() and not (bindir / "stackbilt-gw").exists()
    assert (venv / "bin" / "python").exists()
