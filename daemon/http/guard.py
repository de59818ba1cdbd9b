"""Request guards: Host (DNS rebinding), Origin (CSRF) and the gateway key.

Pure functions over header values; the app calls them before every request. ``/health`` and
Claude Code's ``HEAD /api/hello`` probe are open; everything else needs the gateway key in
``x-stackbilt-gateway-key``, ``x-api-key`` or ``Authorization: Bearer``. When the key came in
the gateway header, an ``x-api-key``/``Authorization`` beside it is the client's own upstream
credential (a subscription login) and is kept for pass-through.
A named client's key (``stackbilt-gw clients add``; ``governance.directory``) is accepted
wherever the gateway key is; which client sent the request is governance's to tell.

The dashboard's session cookie (``http.session``) stands in for the key on ``/ui/*`` and the
read/control APIs only (``session_allowed``), never on the model endpoints; state-changing
calls made with it must also pass ``check_session_csrf`` (same-origin ``Origin`` + the UI header).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from ..core.errors import AuthenticationFailed, PermissionDenied
from ..execute.headers import GATEWAY_KEY_HEADER
from ..governance.directory import ClientDirectory
from ..upstream.credentials import ClientCredential
from ..upstream.targets import is_loopback_name

OPEN_PATHS = frozenset({"/health", "/api/hello"})
# Where a dashboard session cookie is accepted instead of the gateway key.
SESSION_PATHS = frozenset(
    {
        "/metrics",
        "/metrics/summary",
        "/metrics/prometheus",
        "/events/recent",
        "/backtest",
        "/shadow/stats",
        "/providers",
        "/control/mode",
        "/governance",
        "/routing/holdout",
    }
)


def _port_ok(port: str) -> bool:
    return port == "" or (port.isascii() and port.isdigit() and len(port) <= 5)


def host_of(authority: str) -> str | None:
    """The host of a ``host[:port]`` authority (a Host header, an Origin's), lowercased, without
    IPv6 brackets; None when the value is not exactly one host and an optional numeric port."""
    value = authority.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "x"
        if rest and not (rest.startswith(":") and _port_ok(rest[1:])):
            return None
        return value[1:end]
    if value.count(":") == 1:
        value, port = value.split(":", 1)
        if not _port_ok(port):
            return None
    if not value or any(c in value for c in "/?#@\\ \t[]"):
        return None
    return value


def _allowed(host: str | None, allowed: Iterable[str]) -> bool:
    return host is not None and (is_loopback_name(host) or host in {a.lower() for a in allowed})


def check_host(host_header: str | None, allowed: Iterable[str]) -> None:
    if not host_header:
        raise PermissionDenied("the Host header is missing")
    if _allowed(host_of(host_header), allowed):
        return
    raise PermissionDenied(
        f"Host {host_header!r} is not a loopback name; the gateway only answers requests addressed "
        "to localhost (add the name to allowed_hosts in the config file to permit it)"
    )


def _origin_host(origin: str) -> str | None:
    """The host of a serialised origin (``scheme://host[:port]``, nothing more), else None."""
    scheme, sep, authority = origin.partition("://")
    if not sep or not scheme.isascii() or not scheme.isalpha():
        return None
    return host_of(authority)


def check_origin(method: str, origin: str | None, allowed: Iterable[str]) -> None:
    """Refuse state-changing requests from a web page on another origin."""
    if origin is None or method in ("GET", "HEAD", "OPTIONS"):
        return
    if origin == "null" or not _allowed(_origin_host(origin), allowed):
        raise PermissionDenied(f"requests from origin {origin!r} are not allowed")


def session_allowed(path: str) -> bool:
    """May a dashboard session cookie authenticate a request to ``path``."""
    return path == "/ui" or path.startswith("/ui/") or path in SESSION_PATHS


def check_session_csrf(method: str, origin: str | None, host: str | None, ui_header: str | None) -> None:
    """Cookie-authenticated state changes need the UI header and, if sent, a same-origin Origin.

    SameSite=Strict does not separate ports (another local web app is the same site), so the
    Origin must name this very host:port.
    """
    if method in ("GET", "HEAD", "OPTIONS"):
        return
    if not ui_header:
        raise PermissionDenied("dashboard requests that change state must come from the dashboard page")
    if origin is not None and (urlsplit(origin).netloc.lower() != (host or "").lower() or origin == "null"):
        raise PermissionDenied(f"requests from origin {origin!r} are not allowed with a dashboard session")


def _matches(candidate: str | None, key: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), key.encode())


def _is_key(candidate: str | None, key: str, clients: ClientDirectory | None) -> bool:
    """The gateway key, or (with ``clients``) a named client's key."""
    if _matches(candidate, key):
        return True
    return clients is not None and candidate is not None and clients.lookup(candidate) is not None


def authenticate(
    headers: Mapping[str, str], gateway_key: str, clients: ClientDirectory | None = None
) -> ClientCredential | None:
    """Check the gateway key (or a named client's key, with ``clients``); return the client's own
    upstream credential if it sent one."""
    api_key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    bearer = authorization[7:].strip() if authorization and authorization[:7].lower() == "bearer " else None

    def _matches(candidate: str | None, key: str) -> bool:
        return _is_key(candidate, key, clients)

    if _matches(headers.get(GATEWAY_KEY_HEADER), gateway_key):
        if api_key:
            return ClientCredential("x-api-key", api_key)
        if authorization:
            return ClientCredential("authorization", authorization)
        return None
    if _matches(api_key, gateway_key):
        return ClientCredential("authorization", authorization) if authorization else None
    if _matches(bearer, gateway_key):
        return ClientCredential("x-api-key", api_key) if api_key else None
    raise AuthenticationFailed(
        "missing or wrong gateway key: send it as x-api-key, Authorization: Bearer, or "
        f"{GATEWAY_KEY_HEADER}. Print it with `stackbilt-gw key`."
    )
