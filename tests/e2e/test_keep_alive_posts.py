"""A kept-alive connection survives a POST whose body the handler ignores (``/control/session``,
which the tray and the CLI call): the handler reads it, so the server keeps the connection and
the client's next request on it is answered. Unread, 15 of 300 such pairs failed with "Server
disconnected without sending a response" (the dashboard's logout had the same fix)."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

PAIRS = 200


def test_a_post_with_an_ignored_body_keeps_the_connection() -> None:
    gw = GatewayThread(env={}).start()
    failed: list[str] = []
    try:
        with httpx.Client(base_url=gw.url, trust_env=False, timeout=10.0) as http:
            for _ in range(PAIRS):
                try:
                    posted = http.post(
                        "/control/session", headers={"x-api-key": GATEWAY_KEY}, json={"ignored": "x" * 64}
                    )
                    assert posted.status_code == 200, posted.text
                    assert http.get("/health").status_code == 200
                except httpx.RemoteProtocolError as exc:
                    failed.append(str(exc))
    finally:
        gw.stop()
    assert failed == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/messages", {"x-api-key": "sgw-wrong-key"}),  # refused by the guard, body unread
        ("/v1/chat/completions", {"authorization": "Bearer sgw-wrong-key"}),
    ],
)
def test_a_refused_post_tells_the_client_to_reconnect(path: str, headers: dict[str, str]) -> None:
    """An error to a request whose body the gateway did not read says ``Connection: close``, so a
    client does not send its next request down a connection the server is dropping."""
    gw = GatewayThread(env={}).start()
    failed: list[str] = []
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    try:
        with httpx.Client(base_url=gw.url, trust_env=False, timeout=10.0) as http:
            for _ in range(PAIRS):
                try:
                    refused = http.post(path, headers=headers, json=body)
                    assert refused.status_code == 401 and refused.headers["connection"] == "close"
                    assert http.get("/health").status_code == 200
                except httpx.RemoteProtocolError as exc:
                    failed.append(str(exc))
            ok = http.get("/health")
            assert ok.status_code == 200 and "close" not in ok.headers.get("connection", "")
    finally:
        gw.stop()
    assert failed == []
