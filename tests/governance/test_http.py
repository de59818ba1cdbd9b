"""Governance over real HTTP: client keys, per-client rate limits in each protocol's shape with
nothing sent upstream, the refusal audit trail, and /metrics by client id."""

from __future__ import annotations

from typing import Any

import httpx

from stackbilt_gateway.daemon.core.config import ClientSettings, Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import wait_events
from tests.fakes.gateway import GATEWAY_KEY
from tests.governance.conftest import Start, new_client

ANTHROPIC_MODEL = "claude-opus-5-5"
CHAT_MODEL = "groq/llama-3.3-70b-versatile"


def messages(url: str, key: str, text: str = "hi", **headers: str) -> httpx.Response:
    body = {"model": ANTHROPIC_MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
    return httpx.post(
        f"{url}/v1/messages",
        json=body,
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers},
    )


def chat(url: str, key: str, model: str = CHAT_MODEL, **headers: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}", **headers}
    )


def refused(url: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/events/recent", params={"status": "refused"}, headers={"x-api-key": GATEWAY_KEY})
    return list(r.json()["events"])


def test_a_named_clients_key_is_accepted_and_attributed(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway()
    key = new_client("dev-local")  # added while the daemon runs: no restart needed
    assert messages(gw.url, key).status_code == 200
    assert messages(gw.url, GATEWAY_KEY).status_code == 200
    assert messages(gw.url, key, **{"x-stackbilt-client": "dev-local-7"}).status_code == 200
    events = wait_events(gw, 3)
    assert sorted(e["client_id"] for e in events) == ["dev-local", "dev-local-7", "local"]
    # The client key never goes upstream.
    assert all(key not in call.raw.decode() + str(call.headers) for call in upstream.calls("/v1/messages"))


def test_unknown_key_and_foreign_client_ids_are_refused(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway()
    key = new_client("alpha")
    new_client("beta")
    r = messages(gw.url, "sgw-c-not-a-key")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = chat(gw.url, "sgw-c-not-a-key")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    # A client's key may only narrow to its own sub-ids, never to another client.
    r = messages(gw.url, key, **{"x-stackbilt-client": "beta"})
    assert r.status_code == 403 and "may not act as client_id 'beta'" in r.json()["error"]["message"]
    r = messages(gw.url, key, **{"x-stackbilt-client": "other"})
    assert r.status_code == 403
    r = messages(gw.url, key, **{"x-stackbilt-client": "bad id!"})
    assert r.status_code == 400
    assert upstream.calls("/v1/messages") == []


def test_a_revoked_key_stops_working_on_the_next_request(
    start_gateway: Start, upstream: FakeUpstream
) -> None:
    from stackbilt_gateway.daemon.control.paths import resolve_paths
    from stackbilt_gateway.daemon.governance.clients_store import clients_file, revoke_client

    gw = start_gateway()
    key = new_client("temp")
    assert messages(gw.url, key).status_code == 200
    assert revoke_client(clients_file(resolve_paths().config_dir), "temp")
    assert messages(gw.url, key).status_code == 401


def test_rpm_limit_is_a_429_in_each_protocol_and_nothing_goes_upstream(
    start_gateway: Start, upstream: FakeUpstream
) -> None:
    gw = start_gateway()
    key = new_client("dev-local-1", rpm=1)
    assert messages(gw.url, key).status_code == 200
    r = messages(gw.url, key)
    assert r.status_code == 429
    assert r.json()["error"] == {
        "type": "rate_limit_error",
        "message": "Request rate exceeded for client_id dev-local-1",
    }
    assert 1 <= int(r.headers["retry-after"]) <= 60
    r = chat(gw.url, key)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.json()["error"]["message"] == "Request rate exceeded for client_id dev-local-1"
    assert int(r.headers["retry-after"]) >= 1
    responses = httpx.post(
        f"{gw.url}/v1/responses",
        json={"model": "gpt-5.5", "input": "hi"},
        headers={"authorization": f"Bearer {key}"},
    )
    assert responses.status_code == 429 and responses.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(upstream.calls("/v1/messages")) == 1
    assert upstream.calls("/chat/completions") == [] and upstream.calls("/v1/responses") == []
    # The audit trail: each refusal is an event with its client, rule and reason.
    wait_events(gw, 4)
    rows = refused(gw.url)
    assert len(rows) == 3
    assert {(e["client_id"], e["error_class"], e["http_status"]) for e in rows} == {
        ("dev-local-1", "rate_limit.rpm", 429)
    }
    assert all("Request rate exceeded" in e["error_message"] for e in rows)
    m = httpx.get(f"{gw.url}/metrics", headers={"x-api-key": GATEWAY_KEY}).json()
    assert m["refused"] == {"total": 3, "by_rule": {"rate_limit.rpm": 3}}
    by_id = {row["key"]: row for row in m["by_client_id"]}
    assert by_id["dev-local-1"]["requests"] == 4 and by_id["dev-local-1"]["refused"] == 3
    prom = httpx.get(f"{gw.url}/metrics/prometheus", headers={"x-api-key": GATEWAY_KEY}).text
    assert 'stackbilt_refused_total{rule="rate_limit.rpm"} 3' in prom


def test_config_limits_override_the_stored_ones(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway(Config(clients={"ci": ClientSettings(concurrency=1, rpm=1000)}))
    key = new_client("ci", rpm=1)
    assert messages(gw.url, key).status_code == 200
    assert messages(gw.url, key).status_code == 200  # rpm 1000 from the config wins
    g = httpx.get(f"{gw.url}/governance", headers={"x-api-key": GATEWAY_KEY}).json()
    assert {"name": "ci", "rpm": 1000, "tpm": None, "concurrency": 1} in g["clients"]
    assert all("key" not in c for c in g["clients"])
