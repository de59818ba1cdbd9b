"""Headless desktop e2e: Xvfb + trayer + D-Bus, the real tray driven through its real menu.

Launch the tray → right-click its icon → Start gateway (``/health`` answers) → Live mode (the
daemon reports live) → Open dashboard
(a window with the dashboard title appears and renders: checked on a screenshot) → Quit (the tray
exits 0) → stop the daemon; no process of ours is left. Every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.gatewaykey import read_gateway_key
from stackbilt_gateway.daemon.control.lock import holder_pid
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.tray.controller import TrayController, TrayState
from stackbilt_gateway.tray.menu import keyboard_steps, menu_entries
from stackbilt_gateway.webui.window import TITLE, window_lock_path
from tests.desktop.conftest import XDisplay, trayer_window, wait_for, xdotool

pytestmark = pytest.mark.e2e


def _menu(display: XDisplay, state: TrayState, controller: TrayController, entry: str) -> None:
    """Right-click the tray icon and activate ``entry`` with the keyboard."""
    geo = trayer_window(display.name)
    assert geo is not None, "the trayer panel disappeared"
    x, y, _, h = geo
    xdotool(display.name, "mousemove", str(x + h // 2), str(y + h // 2), "click", "3")
    time.sleep(0.6)  # the menu maps and grabs the keyboard
    steps = keyboard_steps(menu_entries(controller, state), entry)
    xdotool(display.name, "key", "--delay", "60", *(["Down"] * steps), "Return")


def _mode_endpoint(port: int, key: str) -> bool:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/control/mode", headers={"x-api-key": key})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code not in (404, 405)
    except OSError:
        return False


def test_tray_menu_drives_daemon_and_dashboard(
    xdisplay: XDisplay, gw_paths: Paths, tmp_path: Path, gateway_port: int
) -> None:
    env = {
        **os.environ,
        "DISPLAY": xdisplay.name,
        "PYSTRAY_BACKEND": "gtk",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "GDK_BACKEND": "x11",
    }
    log = (tmp_path / "tray.log").open("wb")
    tray = subprocess.Popen(
        [sys.executable, "-m", "stackbilt_gateway.tray", "--no-start-daemon", "--poll", "0.3"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    model = TrayController(gw_paths, env, notify=lambda _t, _m: None)
    ours: list[psutil.Process] = [psutil.Process(tray.pid)]

    def tray_log() -> str:
        return (tmp_path / "tray.log").read_text(errors="replace")

    try:
        wait_for(lambda: "ready" in tray_log() or tray.poll() is not None, 30, "the tray to start")
        assert tray.poll() is None, tray_log()
        time.sleep(0.5)  # the icon docks into trayer

        # Start gateway → /health answers.
        _menu(xdisplay, TrayState(), model, "Start gateway")
        info = wait_for(lambda: lifecycle.find_daemon(gw_paths), 30, "the daemon to start from the menu")
        assert isinstance(info, lifecycle.DaemonInfo) and info.port == gateway_port
        health = wait_for(lambda: lifecycle.health("127.0.0.1", info.port), 15, "/health")
        assert isinstance(health, dict) and health["status"] == "ok"
        ours.append(psutil.Process(info.pid))
        time.sleep(1.0)  # the tray polls and rebuilds its menu for the running state
        running = TrayState(running=True, healthy=True, mode=health.get("mode") or "shadow", url=info.url)

        # Switch to live → the daemon reports live.
        key = read_gateway_key(gw_paths, env)
        assert key is not None
        assert _mode_endpoint(info.port, key[0]), "the daemon answers /control/mode"
        _menu(xdisplay, running, model, "Live mode")
        wait_for(
            lambda: (lifecycle.health("127.0.0.1", info.port) or {}).get("mode") == "live",
            15,
            "the daemon to report live",
        )
        running = TrayState(running=True, healthy=True, mode="live", url=info.url)
        time.sleep(1.0)

        # Open dashboard → a window with the dashboard title appears and renders.
        _menu(xdisplay, running, model, "Open dashboard")
        found = wait_for(
            lambda: xdotool(xdisplay.name, "search", "--onlyvisible", "--name", TITLE).stdout.split(),
            40,
            f"a window named {TITLE!r}",
        )
        assert isinstance(found, list)
        pid = holder_pid(window_lock_path(gw_paths))
        assert pid is not None
        ours.append(psutil.Process(pid))
        geo = xdotool(xdisplay.name, "getwindowgeometry", "--shell", found[0]).stdout
        g = {k: int(v) for k, v in (line.split("=", 1) for line in geo.splitlines()) if k != "WINDOW"}
        from PIL import ImageGrab

        def rendered() -> bool:
            shot = ImageGrab.grab(xdisplay=xdisplay.name)
            box = (g["X"], g["Y"], g["X"] + g["WIDTH"], g["Y"] + g["HEIGHT"])
            window = shot.crop(box).convert("RGB")
            colors = window.getcolors(maxcolors=1 << 16) or []
            light = sum(n for n, c in colors if sum(c) > 600)
            # Page rendered: mostly a light background with text (several distinct colours).
            return len(colors) >= 4 and light > 0.5 * g["WIDTH"] * g["HEIGHT"]

        wait_for(rendered, 30, "the dashboard window to render", interval=0.5)

        # Quit → the tray exits 0, the daemon keeps serving until we stop it.
        _menu(xdisplay, running, model, "Quit")
        assert tray.wait(20) == 0, tray_log()
        assert lifecycle.health("127.0.0.1", info.port) is not None
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.wait(5)
        log.close()
        for proc in ours[2:]:  # the dashboard window (the daemon is stopped below)
            if proc.is_running():
                proc.terminate()
        lifecycle.stop(gw_paths, timeout=15)
        _gone, alive = psutil.wait_procs(ours, timeout=10)
        for proc in alive:
            proc.kill()
        assert not alive, f"stray processes: {alive}"
