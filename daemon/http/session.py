"""Dashboard sessions: one-time tokens exchanged for an HttpOnly session cookie.

The launcher (window, tray, ``stackbilt-gw dashboard --browser``) asks ``POST /control/session``
with the gateway key and gets a URL ``/ui/?token=…``. The token is good once, for
``TOKEN_TTL`` seconds; ``GET /ui/?token=…`` trades it for a random session id set as a cookie
(``HttpOnly; SameSite=Strict``) whose name carries the port, so two gateways on one host (a demo
beside the real one) never overwrite each other's cookie. Sessions live in memory only: a
daemon restart ends them. Owns the token/session bookkeeping and the cookie's name and
attributes; does not decide which paths accept the cookie (``guard``). Thread-safe, no I/O.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

TOKEN_TTL = 60.0
# A session ends after this long without a request (the UI polls every few seconds).
SESSION_IDLE = 12 * 3600.0
MAX_SESSIONS = 64
MAX_TOKENS = 64
COOKIE_PREFIX = "sgw_session_"
# Header the dashboard sends on state-changing calls (a cross-origin page cannot add it
# without a CORS preflight, which the gateway never grants).
CSRF_HEADER = "x-stackbilt-ui"


def cookie_name(port: int) -> str:
    return f"{COOKIE_PREFIX}{port}"


def cookie_header(name: str, value: str, *, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: path ``/``, HttpOnly, SameSite=Strict (``max_age=0`` clears it)."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


class SessionStore:
    """Pending one-time tokens and live sessions, both bounded (oldest dropped first)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, float] = OrderedDict()
        self._sessions: OrderedDict[str, float] = OrderedDict()

    def issue_token(self) -> str:
        """A new one-time token, valid for ``TOKEN_TTL`` seconds."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self._clock() + TOKEN_TTL
            while len(self._tokens) > MAX_TOKENS:
                self._tokens.popitem(last=False)
        return token

    def exchange(self, token: str) -> str | None:
        """Spend ``token``: a new session id, or None when it is unknown, used or expired."""
        now = self._clock()
        with self._lock:
            found = None
            for candidate in list(self._tokens):
                if hmac.compare_digest(candidate.encode(), token.encode()):
                    found = candidate
                    break
            if found is None:
                return None
            expires = self._tokens.pop(found)
            if expires < now:
                return None
            session = secrets.token_urlsafe(32)
            self._sessions[session] = now
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return session

    def valid(self, session: str | None) -> bool:
        """Is ``session`` live (and refresh its idle clock)."""
        if not session:
            return False
        now = self._clock()
        with self._lock:
            for candidate, seen in list(self._sessions.items()):
                if hmac.compare_digest(candidate.encode(), session.encode()):
                    if now - seen > SESSION_IDLE:
                        del self._sessions[candidate]
                        return False
                    self._sessions[candidate] = now
                    self._sessions.move_to_end(candidate)
                    return True
        return False

    def end(self, session: str | None) -> None:
        if not session:
            return
        with self._lock:
            self._sessions.pop(session, None)
