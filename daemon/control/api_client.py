"""A small synchronous client for the running daemon's loopback HTTP API.

Owns the calls the desktop processes and the CLI make (health, today's metrics, provider breaker
state, the shadow/live mode, the dashboard session hand-off, the backtest) and how their failures
are reported: ``None`` for "nothing answered", ``NotAvailable`` for an endpoint this daemon does
not have yet (404/405). Authenticated calls send the gateway key as ``x-api-key``. Does not own starting or
stopping the daemon (``lifecycle``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from .lifecycle import connect_host, url_host

Mode = Literal["shadow", "live"]
MODES: tuple[Mode, ...] = ("shadow", "live")

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NotAvailable(Exception):
    """The daemon answered but does not offer this endpoint (older daemon: 404 / 405)."""


class ApiError(Exception):
    """The daemon refused the call (4xx/5xx other than 404/405) or could not be reached."""


@dataclass(frozen=True, slots=True)
class Summary:
    """Today's numbers for the tray's status line (``None`` = not reported)."""

    requests: int | None = None
    spend_usd: float | None = None
    savings_usd: float | None = None
    mode: str | None = None


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class DaemonApi:
    """Calls to one daemon at ``host:port``; ``key`` is the gateway key (may be empty)."""

    def __init__(self, host: str, port: int, key: str, *, timeout: float = 3.0) -> None:
        self.base = f"http://{url_host(connect_host(host))}:{port}"
        self._key = key
        self._timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if auth and self._key:
            req.add_header("x-api-key", self._key)
        try:
            with _NO_PROXY.open(req, timeout=self._timeout) as resp:
                raw = resp.read(1 << 20)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 405):
                raise NotAvailable(f"{method} {path} is not available in this daemon") from None
            detail = exc.read(2000).decode("utf-8", "replace")
            raise ApiError(f"{method} {path}: HTTP {exc.code} {detail[:300]}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(f"{method} {path}: the daemon did not answer ({exc})") from None
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(f"{method} {path}: the daemon sent something that is not JSON") from None

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """An authenticated GET of a read API (``/metrics``, ``/events/recent``, …)."""
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self._call("GET", path + query)

    def post(self, path: str, body: Any) -> Any:
        """An authenticated POST of a JSON body (``/v1/context/compact``, …)."""
        return self._call("POST", path, body)

    def backtest(self, since: str = "7d", routes: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /backtest``: the recorded events since ``since`` replayed through ``routes``
        (classes replacing the daemon's own; None: its own table). Raises NotAvailable/ApiError."""
        body: dict[str, Any] = {"since": since}
        if routes is not None:
            body["routes"] = routes
        data = self._call("POST", "/backtest", body)
        if not isinstance(data, dict):
            raise ApiError("POST /backtest: the answer is not a JSON object")
        return data

    def health(self) -> dict[str, Any] | None:
        """``/health`` (open), or None when nothing answers."""
        try:
            data = self._call("GET", "/health", auth=False)
        except (ApiError, NotAvailable):
            return None
        return data if isinstance(data, dict) else None

    def summary(self) -> Summary:
        """Today's requests, spend and savings; empty when the daemon does not report them."""
        try:
            data = self._call("GET", "/metrics/summary?since=today")
        except (ApiError, NotAvailable):
            return Summary()
        if not isinstance(data, dict):
            return Summary()
        requests = _num(data.get("requests"))
        mode = data.get("mode")
        return Summary(
            requests=int(requests) if requests is not None else None,
            spend_usd=_num(data.get("spend_usd")),
            savings_usd=_num(data.get("savings_usd")),
            mode=mode if isinstance(mode, str) else None,
        )

    def open_breakers(self) -> set[str] | None:
        """Providers whose circuit breaker is open, or None when ``/providers`` is unavailable."""
        try:
            data = self._call("GET", "/providers")
        except (ApiError, NotAvailable):
            return None
        items: list[tuple[str, Any]] = []
        if isinstance(data, dict):
            inner = data.get("providers", data)
            if isinstance(inner, dict):
                items = list(inner.items())
            elif isinstance(inner, list):
                items = [(str(p.get("name", "")), p) for p in inner if isinstance(p, dict)]
        opened: set[str] = set()
        for name, info in items:
            state = info.get("breaker", info.get("state")) if isinstance(info, dict) else info
            if isinstance(state, dict):
                state = state.get("state")
            if isinstance(state, str) and state.lower() == "open":
                opened.add(name)
        return opened

    def get_mode(self) -> str | None:
        """The daemon's mode from ``/control/mode`` or ``/health``; None when it reports none."""
        try:
            data = self._call("GET", "/control/mode")
        except NotAvailable:
            data = self.health() or {}
        except ApiError:
            return None
        mode = data.get("mode") if isinstance(data, dict) else None
        return mode if isinstance(mode, str) else None

    def set_mode(self, mode: Mode) -> str:
        """Switch shadow/live; returns the mode the daemon reports. Raises NotAvailable/ApiError."""
        data = self._call("POST", "/control/mode", {"mode": mode})
        reported = data.get("mode") if isinstance(data, dict) else None
        return reported if isinstance(reported, str) else mode

    def dashboard_url(self) -> tuple[str, bool]:
        """``(url, is_dashboard)``: a one-time-token UI URL, or ``/health`` on older daemons."""
        try:
            data = self._call("POST", "/control/session", {})
        except NotAvailable:
            return self.base + "/health", False
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            raise ApiError("POST /control/session: no url in the answer")
        if url.startswith("/"):
            url = self.base + url
        return url, True
