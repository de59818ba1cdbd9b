"""Dashboard sessions and the guard, over real HTTP: one-time tokens, the cookie, what it may
call, the 401 page, CSRF/Origin rules for cookie-authenticated state changes."""

from __future__ import annotations

import httpx
import pytest

from stackbilt_gateway.daemon.core.errors import PermissionDenied
from stackbilt_gateway.daemon.http.guard import check_session_csrf, session_allowed
from stackbilt_gateway.daemon.http.session import TOKEN_TTL, SessionStore, cookie_name
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread
from tests.webui.conftest import KEY_HEADERS, one_time_url

UI = {"x-stackbilt-ui": "1"}
# Refused requests leave their body unread and the server may drop the connection: use a fresh one.
CLOSE = {"connection": "close"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_single_use_and_expire() -> None:
    clock = Clock()
    store = SessionStore(clock=clock)
    token = store.issue_token()
    session = store.exchange(token)
    assert session and store.valid(session)
    assert store.exchange(token) is None  # spent
    late = store.issue_token()
    clock.now += TOKEN_TTL + 1
    assert store.exchange(late) is None  # expired
    assert store.exchange("made-up") is None
    store.end(session)
    assert not store.valid(session)
    assert not store.valid(None) and not store.valid("")


def test_cookie_paths_and_csrf_rules() -> None:
    assert session_allowed("/ui/") and session_allowed("/ui/api/settings") and session_allowed("/metrics")
    assert session_allowed("/control/mode") and session_allowed("/events/recent")
    for path in ("/v1/messages", "/v1/chat/completions", "/v1/responses", "/control/session", "/uix"):
        assert not session_allowed(path)
    check_session_csrf("GET", "http://evil.example", "127.0.0.1:1", None)  # reads are fine
    check_session_csrf("POST", "http://127.0.0.1:8787", "127.0.0.1:8787", "1")
    check_session_csrf("POST", None, "127.0.0.1:8787", "1")
    for origin, header in (
        ("http://127.0.0.1:8787", None),  # no UI header
        ("http://127.0.0.1:9999", "1"),  # another local web app (same site, other origin)
        ("http://evil.example", "1"),
        ("null", "1"),
    ):
        with pytest.raises(PermissionDenied):
            check_session_csrf("POST", origin, "127.0.0.1:8787", header)


def _login(gateway: GatewayThread, client: httpx.Client) -> httpx.Response:
    resp = client.get(one_time_url(gateway), follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/"
    return resp


def test_without_a_session_everything_refuses(gateway: GatewayThread, http: httpx.Client) -> None:
    page = http.get("/ui/")
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "stackbilt-gw dashboard --browser" in page.text
    for path in (
        "/ui/api/settings",
        "/ui/api/series?since=today",
        "/metrics",
        "/events/recent",
        "/providers",
    ):
        assert http.get(path).status_code == 401, path
    assert http.get("/ui/static/js/main.js").status_code == 401
    assert http.post("/control/mode", json={"mode": "live"}, headers={**UI, **CLOSE}).status_code == 401
    assert http.post("/control/session", json={}, headers=CLOSE).status_code == 401  # needs the key


def test_token_exchange_sets_a_strict_httponly_cookie_once(
    gateway: GatewayThread, http: httpx.Client
) -> None:
    url = one_time_url(gateway)
    first = http.get(url, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/ui/"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(cookie_name(gateway.port) + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert first.headers["referrer-policy"] == "no-referrer"
    page = http.get("/ui/")
    assert page.status_code == 200 and "<title>StackBilt LLM Gateway" in page.text
    assert GATEWAY_KEY not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    with httpx.Client(base_url=gateway.url, trust_env=False) as other:
        again = other.get(url, follow_redirects=False)
        assert again.status_code == 401 and "already used or has expired" in again.text


def test_the_cookie_reads_apis_but_never_proxies_models(gateway: GatewayThread, http: httpx.Client) -> None:
    _login(gateway, http)
    assert http.get("/metrics", params={"since": "today"}).status_code == 200
    assert http.get("/ui/api/settings").json()["demo"] is False
    assert (
        http.get("/ui/static/vendor/chart.umd.min.js").headers["content-type"].startswith("text/javascript")
    )
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    assert http.post("/v1/messages", json=body, headers=CLOSE).status_code == 401
    assert http.post("/control/session", json={}, headers=CLOSE).status_code == 401


def test_mode_changes_need_same_origin_and_the_ui_header(gateway: GatewayThread, http: httpx.Client) -> None:
    _login(gateway, http)
    own = {"origin": gateway.url, **UI}
    for headers in (
        {"origin": "http://evil.example", **UI},
        {"origin": "http://127.0.0.1:1", **UI},
        {"origin": gateway.url},
        {},
    ):
        resp = http.post("/control/mode", json={"mode": "live"}, headers={**headers, **CLOSE})
        assert resp.status_code == 403, headers
    assert httpx.get(gateway.url + "/control/mode", headers=KEY_HEADERS).json()["mode"] == "shadow"
    assert http.post("/control/mode", json={"mode": "live"}, headers=own).json() == {"mode": "live"}
    assert http.post("/ui/api/logout", json={}, headers=own).status_code == 200
    assert http.get("/ui/").status_code == 401
