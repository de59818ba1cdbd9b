"""The tray menu as data, and its translation into a ``pystray.Menu``.

Owns the layout: status line, gateway state, Start/Stop, Shadow ◉ / Live ◉ (radio), Open
dashboard, Start at login ☑, Open logs, Quit. ``menu_entries`` is pure (state in, entries out) so
tests and the desktop e2e can reason about it; ``build_menu`` wraps it for pystray, evaluated
again on every ``icon.update_menu()``. Actions go through the controller's ``dispatch`` so slow
ones never block the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .controller import TrayController, TrayState, state_line, status_line


@dataclass(frozen=True, slots=True)
class Entry:
    """One menu row; ``action`` None means an informational (disabled) line."""

    text: str
    action: Callable[[], object] | None = None
    enabled: bool = True
    checked: bool | None = None
    radio: bool = False


SEPARATOR = None
MenuRow = Entry | None


def menu_entries(c: TrayController, state: TrayState | None = None) -> list[MenuRow]:
    """The menu for ``state`` (default: the controller's current state)."""
    s = c.state if state is None else state
    idle = s.busy is None
    can_mode = s.running and s.healthy and idle and s.mode_available
    return [
        Entry(status_line(s), enabled=False),
        Entry(state_line(s), enabled=False),
        SEPARATOR,
        Entry("Start gateway", c.start_daemon, enabled=idle and not s.running),
        Entry("Stop gateway", c.stop_daemon, enabled=idle and s.running),
        SEPARATOR,
        Entry("Shadow mode", lambda: c.set_mode("shadow"), can_mode, s.mode != "live", radio=True),
        Entry("Live mode", lambda: c.set_mode("live"), can_mode, s.mode == "live", radio=True),
        SEPARATOR,
        Entry("Open dashboard", c.open_dashboard, enabled=idle),
        Entry("Start at login", c.toggle_autostart, checked=s.autostart),
        Entry("Open logs", c.open_logs),
        SEPARATOR,
        Entry("Quit", c.quit),
    ]


def keyboard_steps(rows: list[MenuRow], text: str) -> int:
    """How many Down presses select ``text`` in a freshly opened menu (disabled rows are skipped)."""
    steps = 0
    for row in rows:
        if row is None or not row.enabled:
            continue
        steps += 1
        if row.text == text:
            return steps
    raise KeyError(f"{text!r} is not an enabled menu entry")


def _run(c: TrayController, entry: Entry) -> Callable[[], object]:
    action = entry.action
    assert action is not None
    if entry.text == "Quit":
        return action  # must run on the GUI thread: it stops the icon's loop
    return lambda: c.dispatch(action)


def build_menu(pystray: Any, c: TrayController) -> Any:
    """A ``pystray.Menu`` whose rows are recomputed from the controller on each update."""

    def items() -> list[Any]:
        out: list[Any] = []
        for row in menu_entries(c):
            if row is None:
                out.append(pystray.Menu.SEPARATOR)
                continue
            action = _run(c, row) if row.action is not None else None
            checked = row.checked
            out.append(
                pystray.MenuItem(
                    row.text,
                    action,
                    enabled=row.enabled,
                    checked=(lambda _item, value=checked: value) if checked is not None else None,
                    radio=row.radio,
                )
            )
        return out

    return pystray.Menu(lambda: items())
