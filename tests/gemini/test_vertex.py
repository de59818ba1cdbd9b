"""Vertex AI's OAuth: the JWT-bearer grant against a fake token endpoint, refresh before expiry
with one refresh for concurrent requests, and clear errors for a bad or refused credential file."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from stackbilt_gateway.daemon.simulator.gemini import SCOPE, FakeGemini
from stackbilt_gateway.daemon.upstream.google_auth import REFRESH_MARGIN
from stackbilt_gateway.daemon.upstream.targets import Providers
from tests.fakes.gateway import GatewayThread
from tests.gemini.conftest import AUTH, MODEL, google_env, vertex_config, write_service_account


def _ask(gw: GatewayThread, text: str = "hello vertex") -> httpx.Response:
    body = {"model": f"vertex/{MODEL}", "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{gw.url}/v1/messages", json=body, headers=AUTH, timeout=30)


def test_jwt_bearer_assertion_is_signed_for_the_token_uri(gemini: FakeGemini, gateway: GatewayThread) -> None:
    resp = _ask(gateway)
    assert resp.status_code == 200, resp.text
    assert len(gemini.token_requests) <= 1  # the session's token may already be cached
    if not gemini.token_requests:
        return
    (grant,) = gemini.token_requests
    assert grant["verified"] is True  # RS256 over header.claims with the account's public key
    assert grant["header"] == {"alg": "RS256", "typ": "JWT", "kid": "fake-key-id-1"}
    claims = grant["claims"]
    assert claims["aud"] == gemini.token_uri and claims["scope"] == SCOPE
    assert claims["iss"] == gemini.client_email and claims["exp"] - claims["iat"] == 3600


def test_expired_token_is_refreshed_once_for_concurrent_requests(
    gemini: FakeGemini, account_file: Path
) -> None:
    # Tokens live just past the refresh margin, so the first one is stale a second later.
    gemini.token_lifetime = int(REFRESH_MARGIN) + 1
    gemini.token_delay = 0.3  # concurrent requests pile up behind the one refresh
    gw = GatewayThread(env=google_env(gemini), config=vertex_config(account_file)).start()
    try:
        assert _ask(gw, "first turn").status_code == 200
        assert len(gemini.token_requests) == 1
        time.sleep(1.2)
        used = {c.headers["authorization"].removeprefix("Bearer ") for c in gemini.requests}
        gemini.expire_tokens(used)  # the old token is now refused by the upstream too
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: _ask(gw, f"turn {i}"), range(8)))
        assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
        assert len(gemini.token_requests) == 2  # one refresh served all eight
        assert all(r.json()["content"][0]["text"].startswith("FAKE_REPLY") for r in results)
        tokens = {c.headers["authorization"] for c in gemini.requests}
        assert len(tokens) == 2
    finally:
        gw.stop()


def test_refused_refresh_is_a_401_naming_the_file(
    gemini: FakeGemini, tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not the registered key
    account = write_service_account(tmp_path / "wrong-key.json", other, fake_gemini)
    gw = GatewayThread(env=google_env(gemini), config=vertex_config(account)).start()
    try:
        resp = _ask(gw)
        assert resp.status_code == 401, resp.text
        message = resp.json()["error"]["message"]
        assert str(account) in message and "Invalid JWT Signature" in message
        assert gemini.requests == []
    finally:
        gw.stop()


def test_unreachable_token_endpoint_is_a_502_naming_the_file(gemini: FakeGemini, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = write_service_account(tmp_path / "sa.json", key, gemini)
    raw = json.loads(account.read_text())
    raw["token_uri"] = "http://127.0.0.1:9/token"  # nothing listens on the discard port
    account.write_text(json.dumps(raw))
    gw = GatewayThread(env=google_env(gemini), config=vertex_config(account)).start()
    try:
        resp = _ask(gw)
        assert resp.status_code == 502, resp.text
        assert str(account) in resp.json()["error"]["message"]
    finally:
        gw.stop()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "does not exist"),
        ("not json", "is not a JSON object"),
        (json.dumps({"type": "authorized_user", "client_id": "x"}), "is not a service-account key"),
        (json.dumps({"type": "service_account", "client_email": "a@b"}), "lacks private_key, token_uri"),
    ],
)
def test_bad_credential_file_is_reported_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None, why: str
) -> None:
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with caplog.at_level(logging.WARNING):
        providers = Providers.resolve_all(vertex_config(path), {})
    assert why in providers.problems["vertex"] and str(path) in providers.problems["vertex"]
    assert any("vertex" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_vertex_without_project_says_what_to_set(gemini: FakeGemini, account_file: Path) -> None:
    env = {**google_env(gemini), "GOOGLE_APPLICATION_CREDENTIALS": str(account_file)}
    gw = GatewayThread(env=env).start()
    try:
        resp = _ask(gw)
        assert resp.status_code == 503, resp.text
        assert "providers.vertex.project" in resp.json()["error"]["message"]
    finally:
        gw.stop()
