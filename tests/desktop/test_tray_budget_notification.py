"""Headless desktop e2e: the real tray process (GTK backend on Xvfb + trayer) shows a desktop
notification through pystray's ``Icon.notify`` when a ``warn`` budget is used up, and only once.

The desktop's notification daemon is played by a small D-Bus service on the test's session bus
(``org.freedesktop.Notifications``, the interface pystray's GTK backend calls), recording what it
is asked to show. The gateway is started by the tray itself, with a warn budget in its config and
today's spend already in its telemetry database. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.control import lifecycle
from stackbilt_gateway.daemon.control.paths import Paths
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import db_path, insert_events, open_db
from tests.desktop.conftest import XDisplay, wait_for

pytestmark = pytest.mark.e2e

NAME = "org.freedesktop.Notifications"
OBJECT = "/org/freedesktop/Notifications"
INTERFACE = f"""<node><interface name="{NAME}">
  <method name="Notify"><arg type="s" direction="in"/><arg type="u" direction="in"/>
    <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="s" direction="in"/>
    <arg type="as" direction="in"/><arg type="a{{sv}}" direction="in"/><arg type="i" direction="in"/>
    <arg type="u" direction="out"/></method>
  <method name="CloseNotification"><arg type="u" direction="in"/></method>
  <method name="GetCapabilities"><arg type="as" direction="out"/></method>
  <method name="GetServerInformation"><arg type="s" direction="out"/><arg type="s" direction="out"/>
    <arg type="s" direction="out"/><arg type="s" direction="out"/></method>
</interface></node>"""


class NotificationServer:
    """A notification daemon on the session bus that records (summary, body) of every Notify."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []
        self._owned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-notifications", daemon=True)
        self._loop: Any = None

    def start(self) -> NotificationServer:
        self._thread.start()
        if not self._owned.wait(10):
            pytest.fail(f"could not own {NAME} on the session bus within 10 s")
        return self

    def _run(self) -> None:
        from gi.repository import Gio, GLib

        context = GLib.MainContext.new()
        context.push_thread_default()
        self._loop = GLib.MainLoop.new(context, False)
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        info = Gio.DBusNodeInfo.new_for_xml(INTERFACE).interfaces[0]
        bus.register_object(OBJECT, info, self._call, None, None)
        Gio.bus_own_name_on_connection(
            bus, NAME, Gio.BusNameOwnerFlags.REPLACE, lambda *_: self._owned.set(), None
        )
        self._loop.run()

    def _call(
        self, _conn: Any, _sender: str, _path: str, _iface: str, method: str, params: Any, inv: Any
    ) -> None:
        from gi.repository import GLib

        if method == "Notify":
            values = params.unpack()
            self.shown.append((str(values[3]), str(values[4])))
            inv.return_value(GLib.Variant("(u)", (len(self.shown),)))
        elif method == "GetCapabilities":
            inv.return_value(GLib.Variant("(as)", (["body"],)))
        elif method == "GetServerInformation":
            inv.return_value(GLib.Variant("(ssss)", ("test", "stackbilt", "1", "1.2")))
        else:
            inv.return_value(None)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.quit()
        self._thread.join(5)


def _warn_budget_used_up(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.user_config_file.write_text(
        json.dumps({"budgets": {"total": {"daily_usd": 0.5, "action": "warn"}}})
    )
    database = db_path(paths.data_dir)
    database.parent.mkdir(parents=True, exist_ok=True)
    conn = open_db(database)
    try:
        insert_events(conn, [GatewayRequestEvent(ts=time.time() - 5, client_id="local", cost_usd=0.75)])
    finally:
        conn.close()


def test_tray_notifies_a_used_up_warn_budget_once(
    xdisplay: XDisplay, gw_paths: Paths, tmp_path: Path
) -> None:
    _warn_budget_used_up(gw_paths)
    server = NotificationServer().start()
    env = {
        **os.environ,
        "DISPLAY": xdisplay.name,
        "PYSTRAY_BACKEND": "gtk",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "GDK_BACKEND": "x11",
    }
    log_path = tmp_path / "tray.log"
    with log_path.open("wb") as log:
        tray = subprocess.Popen(
            [sys.executable, "-m", "stackbilt_gateway.tray", "--poll", "0.3"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for(lambda: lifecycle.find_daemon(gw_paths), 40, "the tray to start the gateway")

        def budget_notes() -> list[tuple[str, str]]:
            return [n for n in server.shown if "budget" in n[1]]

        wait_for(budget_notes, 20, "the budget notification")
        time.sleep(1.5)  # several more polls: the budget is still used up, nothing new is shown
        notes = budget_notes()
        assert len(notes) == 1, (server.shown, log_path.read_text(errors="replace"))
        title, body = notes[0]
        assert title == "StackBilt LLM Gateway"
        assert body.startswith("The daily budget of the total ($0.50) is used up: $0.75 spent.")
        assert tray.poll() is None, log_path.read_text(errors="replace")
    finally:
        if tray.poll() is None:
            tray.terminate()
            try:
                tray.wait(10)
            except subprocess.TimeoutExpired:
                tray.kill()
                tray.wait(5)
        server.stop()
