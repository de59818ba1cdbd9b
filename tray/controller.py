"""The tray's brain: gateway state, the actions the menu offers, and supervision of the daemon.

Owns ``TrayState`` (what the icon and menu show), ``TrayController`` (start/stop the daemon,
shadow/live, open the dashboard, start at login, open logs, quit) and change detection that turns
"the daemon died while we expected it up", "a provider's breaker opened" and "a ``warn`` budget
is used up" (``tray.budgets``, once per budget per period) into notifications.
Pure of GUI: pystray is never imported here, so it runs on the dummy backend and in unit tests.
The menu layout is ``tray.menu``'s; the polling thread is ``tray.supervisor``'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ..daemon.control.api_client import DaemonApi, Mode, NotAvailable, Summary
from ..daemon.control.gatewaykey import load_or_create_gateway_key, read_gateway_key
from ..daemon.control.lifecycle import DaemonStartFailed, PortInUse, find_daemon, start_background, stop
from ..daemon.control.paths import Paths
from ..daemon.control.platform import open_path
from ..daemon.control.settings import ConfigError, graceful_timeout, load_settings
from ..installer import autostart
from . import budgets
from .icons import IconState

log = logging.getLogger(__name__)

Notify = Callable[[str, str], None]
"""(title, message) -> shows a desktop notification."""
Dispatch = Callable[[Callable[[], object]], None]
"""Runs a slow action off the GUI thread (tests pass a synchronous one)."""

APP_TITLE = "StackBilt LLM Gateway"
DASH = "—"


@dataclass(frozen=True, slots=True)
class TrayState:
    running: bool = False
    healthy: bool = False
    url: str | None = None
    mode: str | None = None
    degraded: bool = False
    summary: Summary = field(default_factory=Summary)
    open_breakers: frozenset[str] = frozenset()
    autostart: bool = False
    mode_available: bool = True
    busy: str | None = None  # "starting" / "stopping" while an action runs

    @property
    def icon_state(self) -> IconState:
        if not self.running:
            return "stopped"
        if self.degraded or not self.healthy or self.open_breakers:
            return "degraded"
        return "live" if self.mode == "live" else "shadow"


def _money(value: float | None) -> str:
    """Dollars: cents from 10 cents up, four decimals below (a day of titles is a few mills)."""
    if value is None:
        return DASH
    return f"${value:,.2f}" if value == 0 or abs(value) >= 0.1 else f"${value:,.4f}"


def _savings(value: float | None, live: bool) -> str:
    """Savings in words, a loss said as a loss: "saved $0.25", "would cost $0.07 more"."""
    if value is not None and value < 0:
        return f"{'cost' if live else 'would cost'} {_money(-value)} more"
    return f"{'saved' if live else 'would save'} {_money(value)}"


def status_line(state: TrayState) -> str:
    """The menu's first line: today's requests, spend and (projected or realised) savings."""
    s = state.summary
    if s.requests is None:
        requests = f"{DASH} requests"
    else:
        requests = f"{s.requests:,} request{'' if s.requests == 1 else 's'}"
    savings = _savings(s.savings_usd, (s.mode or state.mode) == "live")
    return f"Today: {requests} · spent {_money(s.spend_usd)} · {savings}"


def state_line(state: TrayState) -> str:
    """The menu's second line: running or not, where, in which mode."""
    if state.busy:
        return f"Gateway: {state.busy}…"
    if not state.running:
        return "Gateway: stopped"
    mode = state.mode or DASH
    health = "" if state.healthy else ", not answering"
    breakers = f", down: {', '.join(sorted(state.open_breakers))}" if state.open_breakers else ""
    return f"Gateway: {mode} at {state.url}{health}{breakers}"


def _thread_dispatch(action: Callable[[], object]) -> None:
    threading.Thread(target=action, name="tray-action", daemon=True).start()


class TrayController:
    """Everything the tray menu can do, plus ``refresh`` for the supervisor."""

    def __init__(
        self,
        paths: Paths,
        env: Mapping[str, str],
        *,
        notify: Notify,
        autostart_target: autostart.Target | None = None,
        dispatch: Dispatch = _thread_dispatch,
        launch_dashboard: Callable[[], str] | None = None,
        open_file: Callable[[str], None] = open_path,
        start_timeout: float = 20.0,
    ) -> None:
        self.paths = paths
        self.env = dict(env)
        self.notify = notify
        self.dispatch = dispatch
        self.on_change: Callable[[TrayState], None] = lambda _s: None
        self.on_quit: Callable[[], None] = lambda: None
        self._autostart = autostart_target or autostart.Target.current(self.env, paths)
        self._launch_dashboard = launch_dashboard or self._default_launch_dashboard
        self._open_file = open_file
        self._start_timeout = start_timeout
        self._lock = threading.RLock()
        self._expect_running = False
        self._mode_available = True
        self._budgets: list[budgets.BudgetView] | None = None
        self._budget_notices = budgets.BudgetNotices()
        self.state = TrayState()

    # -- state ---------------------------------------------------------------------------------
    def _api(self, host: str, port: int) -> DaemonApi:
        found = read_gateway_key(self.paths, self.env)
        return DaemonApi(host, port, found[0] if found else "")

    def current_api(self) -> DaemonApi | None:
        info = find_daemon(self.paths)
        return None if info is None else self._api(info.host, info.port)

    def _poll(self) -> TrayState:
        try:
            enabled = autostart.status(self._autostart).enabled
        except (OSError, RuntimeError):
            enabled = False
        self._budgets = None
        info = find_daemon(self.paths)
        if info is None:
            return TrayState(autostart=enabled, mode_available=self._mode_available)
        api = self._api(info.host, info.port)
        h = api.health()
        summary = api.summary() if h is not None else Summary()
        breakers = api.open_breakers() if h is not None else None
        self._budgets = budgets.fetch(api) if h is not None else None
        mode = (h or {}).get("mode") or summary.mode
        return TrayState(
            running=True,
            healthy=h is not None,
            url=info.url,
            mode=mode if isinstance(mode, str) else None,
            degraded=bool((h or {}).get("degraded", False)),
            summary=summary,
            open_breakers=frozenset(breakers or ()),
            autostart=enabled,
            mode_available=self._mode_available,
        )

    def refresh(self) -> TrayState:
        """Poll the daemon; notify on unexpected death, newly opened breakers and used-up warn budgets;
        publish changes."""
        with self._lock:
            before = self.state
            new = replace(self._poll(), busy=before.busy)
            if new.running:
                self._expect_running = True
            elif self._expect_running and before.busy is None:
                self._expect_running = False
                self.notify(APP_TITLE, "The gateway stopped unexpectedly. Use “Start gateway” to restart it.")
            for name in sorted(new.open_breakers - before.open_breakers):
                self.notify(APP_TITLE, f"Provider {name} is failing; its circuit breaker opened.")
            if self._budgets is not None:  # unknown (daemon down, older daemon): remember as is
                for text in self._budget_notices.due(self._budgets):
                    self.notify(APP_TITLE, text)
            self.state = new
        if new != before:
            self.on_change(new)
        return new

    def _set_busy(self, busy: str | None) -> None:
        with self._lock:
            self.state = replace(self.state, busy=busy)
        self.on_change(self.state)

    # -- actions -------------------------------------------------------------------------------
    def start_daemon(self) -> bool:
        """Start the daemon unless it runs; True when it answers afterwards."""
        if find_daemon(self.paths) is not None:
            self.refresh()
            return True
        self._set_busy("starting")
        try:
            config = load_settings(self.env, self.paths)
            self.paths.ensure()
            load_or_create_gateway_key(self.paths, self.env)
            start_background(config, self.paths, timeout=self._start_timeout)
            self._expect_running = True
            ok = True
        except (ConfigError, PortInUse, DaemonStartFailed, OSError) as exc:
            self.notify(APP_TITLE, f"Could not start the gateway: {str(exc).splitlines()[0]}")
            log.warning("could not start the gateway: %s", exc)
            ok = False
        finally:
            self._set_busy(None)
        self.refresh()
        return ok

    def stop_daemon(self) -> None:
        with self._lock:
            self._expect_running = False
        self._set_busy("stopping")
        try:
            stop(self.paths, timeout=graceful_timeout(self.env, self.paths) + 10.0)
        finally:
            self._set_busy(None)
        self.refresh()

    def set_mode(self, mode: Mode) -> None:
        api = self.current_api()
        if api is None:
            self.notify(APP_TITLE, "Start the gateway before switching modes.")
            return
        try:
            reported = api.set_mode(mode)
        except NotAvailable:
            self._mode_available = False
            self.notify(APP_TITLE, "This gateway version cannot switch modes yet.")
        except Exception as exc:  # ApiError or anything unexpected: never kill the tray
            self.notify(APP_TITLE, f"Could not switch to {mode}: {exc}")
        else:
            if reported != mode:
                self.notify(APP_TITLE, f"The gateway reports mode {reported} after asking for {mode}.")
        self.refresh()

    def open_dashboard(self) -> None:
        if find_daemon(self.paths) is None and not self.start_daemon():
            return
        try:
            outcome = self._launch_dashboard()
        except OSError as exc:
            self.notify(APP_TITLE, f"Could not open the dashboard: {exc}")
            return
        log.info("dashboard: %s", outcome)

    def _default_launch_dashboard(self) -> str:
        from ..webui.window import launch

        return launch(self.paths, self.env)

    def toggle_autostart(self) -> None:
        try:
            if autostart.status(self._autostart).enabled:
                autostart.disable(self._autostart)
            else:
                autostart.enable(self._autostart)
        except (OSError, RuntimeError) as exc:
            self.notify(APP_TITLE, f"Could not change start at login: {exc}")
        self.refresh()

    def open_logs(self) -> None:
        path = self.paths.log_file
        if not path.exists():
            self.notify(APP_TITLE, f"No log yet at {path}; it is written once the gateway starts.")
            return
        try:
            self._open_file(str(path))
        except OSError as exc:
            self.notify(APP_TITLE, f"Could not open {path}: {exc}")

    def quit(self) -> None:
        """Leave the tray; the daemon keeps serving (agents depend on it)."""
        self.on_quit()
