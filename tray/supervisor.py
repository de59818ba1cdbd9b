"""The tray's polling thread: refreshes the controller's view of the daemon every few seconds.

Owns only the loop, its interval and its clean stop; what a refresh means (and what is notified)
is ``TrayController.refresh``'s. A failing refresh is logged and the loop goes on: the tray must
outlive any daemon hiccup.
"""

from __future__ import annotations

import logging
import threading

from .controller import TrayController

log = logging.getLogger(__name__)


class Supervisor:
    """Calls ``controller.refresh()`` every ``interval`` seconds on a daemon thread."""

    def __init__(self, controller: TrayController, interval: float = 2.0) -> None:
        self.controller = controller
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Supervisor:
        self._thread = threading.Thread(target=self._loop, name="tray-supervisor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.controller.refresh()
            except Exception:  # keep supervising whatever happened
                log.exception("tray: refreshing the gateway state failed")
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
