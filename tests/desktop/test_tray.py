"""Tray units on pystray's dummy backend: controller, menu model, icons, lock, supervisor.

Menu items are called directly (``item(icon)``); ``Icon.run()`` is never called on the dummy
backend. Start/stop and "the daemon died" use a real daemon on a free port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from stackbilt_gateway.daemon.control.api_client import Summary
from stackbilt_gateway.daemon.control.lifecycle import find_daemon
from stackbilt_gateway.daemon.control.lock import AlreadyRunning, InstanceLock, is_locked
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.installer import autostart
from stackbilt_gateway.tray.controller import TrayController, TrayState, status_line
from stackbilt_gateway.tray.icons import STATES, render_icon
from stackbilt_gateway.tray.menu import build_menu, keyboard_steps, menu_entries
from stackbilt_gateway.tray.supervisor import Supervisor
from tests.desktop.conftest import wait_for


def _sync(action: Callable[[], object]) -> None:
    action()


class Harness:
    def __init__(self, paths: Paths, tmp: Path) -> None:
        self.notes: list[str] = []
        self.opened: list[str] = []
        self.dashboards = 0
        target = autostart.Target(
            platform="linux",
            home=tmp / "home",
            env={"XDG_CONFIG_HOME": str(tmp / "xdg")},
            tray_argv=("/opt/Stack Bilt/bin/stackbilt-gw-tray",),
            daemon_argv=(sys.executable, "-m", "stackbilt_gateway.daemon"),
            log_file=tmp / "tray.log",
            run_tools=False,
        )
        self.c = TrayController(
            paths,
            dict(os.environ),
            notify=lambda _t, m: self.notes.append(m),
            autostart_target=target,
            dispatch=_sync,
            launch_dashboard=self._dash,
            open_file=self.opened.append,
        )

    def _dash(self) -> str:
        self.dashboards += 1
        return "started"


@pytest.fixture
def harness(gw_paths: Paths, tmp_path: Path) -> Harness:
    return Harness(gw_paths, tmp_path)


@pytest.fixture
def dummy_pystray(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    for name in [m for m in sys.modules if m == "pystray" or m.startswith("pystray.")]:
        monkeypatch.delitem(sys.modules, name)
    import pystray

    return pystray


def _items(pystray: Any, c: TrayController) -> dict[str, Any]:
    icon = pystray.Icon("t", render_icon("stopped"), "t", build_menu(pystray, c))
    return {str(item.text): (icon, item) for item in icon.menu.items if item is not pystray.Menu.SEPARATOR}


def test_menu_on_dummy_backend_drives_the_daemon(harness: Harness, dummy_pystray: Any) -> None:
    c = harness.c
    c.refresh()
    items = _items(dummy_pystray, c)
    assert items["Start gateway"][1].enabled and not items["Stop gateway"][1].enabled
    assert items["Status"] if "Status" in items else True
    icon, start = items["Start gateway"]
    start(icon)
    info = find_daemon(c.paths)
    assert info is not None and c.state.running and c.state.healthy
    assert c.state.icon_state in ("shadow", "live")  # whatever the daemon reports
    items = _items(dummy_pystray, c)
    assert not items["Start gateway"][1].enabled and items["Stop gateway"][1].enabled
    icon, dash = items["Open dashboard"]
    dash(icon)
    assert harness.dashboards == 1
    icon, stop_item = items["Stop gateway"]
    stop_item(icon)
    assert find_daemon(c.paths) is None and c.state.icon_state == "stopped"
    assert not any("unexpectedly" in n for n in harness.notes)  # a user stop is not a crash


def test_start_at_login_checkbox_is_reversible(harness: Harness, dummy_pystray: Any) -> None:
    c = harness.c
    c.refresh()
    icon, item = _items(dummy_pystray, c)["Start at login"]
    assert item.checked is False
    item(icon)
    assert c.state.autostart
    assert _items(dummy_pystray, c)["Start at login"][1].checked is True
    item(icon)
    assert not c.state.autostart


def test_open_logs_and_quit(harness: Harness, dummy_pystray: Any) -> None:
    c = harness.c
    quits: list[bool] = []
    c.on_quit = lambda: quits.append(True)
    items = _items(dummy_pystray, c)
    items["Open logs"][1](items["Open logs"][0])
    assert harness.notes and "No log yet" in harness.notes[-1]
    c.paths.log_dir.mkdir(parents=True, exist_ok=True)
    c.paths.log_file.write_text("x\n")
    items["Open logs"][1](items["Open logs"][0])
    assert harness.opened == [str(c.paths.log_file)]
    items["Quit"][1](items["Quit"][0])
    assert quits == [True]


def test_supervisor_notices_a_dead_daemon(harness: Harness) -> None:
    c = harness.c
    assert c.start_daemon()
    info = find_daemon(c.paths)
    assert info is not None
    sup = Supervisor(c, interval=0.1).start()
    try:
        os.kill(info.pid, signal.SIGKILL)
        psutil.wait_procs([psutil.Process(info.pid)], timeout=5)
        wait_for(lambda: any("unexpectedly" in n for n in harness.notes), 10, "the crash notification")
    finally:
        sup.stop()
    assert c.state.icon_state == "stopped"
    assert sum("unexpectedly" in n for n in harness.notes) == 1  # said once, not every poll


def test_mode_switch_without_daemon_says_so(harness: Harness) -> None:
    harness.c.set_mode("live")
    assert "Start the gateway" in harness.notes[-1]


def test_status_line_degrades_to_dashes() -> None:
    assert status_line(TrayState()) == "Today: — requests · spent — · would save —"
    live = TrayState(running=True, healthy=True, mode="live", summary=Summary(12, 1.5, 0.25, "live"))
    assert status_line(live) == "Today: 12 requests · spent $1.50 · saved $0.25"


def test_status_line_says_a_loss_as_a_loss() -> None:
    """A negative saving is never shown as "would save $-0.07": it is a cost, in words."""
    shadow = TrayState(running=True, healthy=True, mode="shadow", summary=Summary(3, 2.0, -0.07, "shadow"))
    assert status_line(shadow) == "Today: 3 requests · spent $2.00 · would cost $0.0700 more"
    live = TrayState(running=True, healthy=True, mode="live", summary=Summary(3, 2.0, -1.25, "live"))
    assert status_line(live) == "Today: 3 requests · spent $2.00 · cost $1.25 more"
    small = TrayState(running=True, healthy=True, mode="live", summary=Summary(1, 0.004, 0.0034, "live"))
    assert status_line(small) == "Today: 1 request · spent $0.0040 · saved $0.0034"


def test_menu_model_radio_and_keyboard_steps(harness: Harness) -> None:
    stopped = menu_entries(harness.c, TrayState())
    assert keyboard_steps(stopped, "Start gateway") == 1
    assert keyboard_steps(stopped, "Quit") == 5  # Start, Open dashboard, Start at login, Open logs, Quit
    running = TrayState(running=True, healthy=True, mode="shadow", url="http://x")
    rows = [r for r in menu_entries(harness.c, running) if r is not None]
    radios = {r.text: r.checked for r in rows if r.radio}
    assert radios == {"Shadow mode": True, "Live mode": False}
    assert keyboard_steps(menu_entries(harness.c, running), "Live mode") == 3


def test_icon_states_render_differently() -> None:
    images = {s: render_icon(s, 32) for s in STATES}
    for img in images.values():
        assert img.size == (32, 32) and img.mode == "RGBA"
    data = {s: img.tobytes() for s, img in images.items()}
    assert len(set(data.values())) == len(STATES)
    centre = {s: images[s].getpixel((8, 16)) for s in STATES}  # left of centre: fill colour
    assert len(set(centre.values())) == len(STATES)
    assert TrayState().icon_state == "stopped"
    assert TrayState(running=True, healthy=True, mode="live").icon_state == "live"
    assert TrayState(running=True, healthy=True).icon_state == "shadow"
    assert TrayState(running=True, healthy=True, open_breakers=frozenset({"groq"})).icon_state == "degraded"
    assert TrayState(running=True, healthy=False).icon_state == "degraded"


def test_single_instance_lock(tmp_path: Path) -> None:
    path = tmp_path / "tray.lock"
    with InstanceLock(path):
        assert is_locked(path)
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path;"
                "from stackbilt_gateway.daemon.control.lock import InstanceLock, AlreadyRunning\n"
                "try:\n InstanceLock(Path(sys.argv[1])).acquire()\nexcept AlreadyRunning as e:\n"
                " print(e); sys.exit(3)",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert other.returncode == 3 and f"pid {os.getpid()}" in other.stdout
        with pytest.raises(AlreadyRunning):
            InstanceLock(path).acquire()  # flock is per open file: a second open in-process fails too
    assert not is_locked(path)
    InstanceLock(path).acquire()  # free again after release


def test_tray_without_display_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(
        [sys.executable, "-m", "stackbilt_gateway.daemon.cli", "tray"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "no graphical session" in out.stderr and "Traceback" not in out.stderr
    assert "pystray" not in out.stderr
