"""The Host and Origin guards match loopback exactly: a name that only starts like a loopback
address (DNS rebinding: ``127.0.0.1.evil.example``) is refused, ports, IPv6 brackets and case
are handled, and ``allowed_hosts`` still extends both checks."""

from __future__ import annotations

import httpx
import pytest

from stackbilt_gateway.daemon.control.secrets import KeyStore
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.errors import PermissionDenied
from stackbilt_gateway.daemon.http.app import create_app
from stackbilt_gateway.daemon.http.guard import check_host, check_origin, host_of
from stackbilt_gateway.daemon.upstream.targets import is_loopback_name

KEY = "sgw-unit-test-key"

LOCAL_HOSTS = [
    "localhost",
    "localhost:8787",
    "LOCALHOST:8787",
    "LocalHost",
    "localhost.localdomain:8787",
    "127.0.0.1",
    "127.0.0.1:8787",
    "127.1.2.3:80",
    "127.255.255.254",
    "[::1]",
    "[::1]:8787",
    "[0:0:0:0:0:0:0:1]:8787",
    " localhost:8787 ",
]
FOREIGN_HOSTS = [
    "127.0.0.1.evil.example",
    "127.0.0.1.evil.example:8787",
    "127.evil.example",
    "localhost.evil.example",
    "localhost.evil.example:8787",
    "evil.example",
    "evillocalhost",
    "localhost.",
    "[::ffff:127.0.0.1]:8787",
    "[::1%lo]:8787",
    "[::1].evil.example",
    "[::1]evil",
    "[::1",
    "[::2]:8787",
    "localhost:80x",
    "localhost:8787:1",
    "localhost@evil.example",
    "evil.example/localhost",
    "127.1",
    "2130706433",
    "0x7f.0.0.1",
    "128.0.0.1",
    "0.0.0.0",
    "10.0.0.1:8787",
]


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_loopback_hosts_pass(host: str) -> None:
    check_host(host, [])


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(PermissionDenied, match="not a loopback name"):
        check_host(host, [])


def test_missing_host_is_refused() -> None:
    with pytest.raises(PermissionDenied, match="missing"):
        check_host(None, [])


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_loopback_origins_pass(host: str) -> None:
    for scheme in ("http", "https"):
        check_origin("POST", f"{scheme}://{host.strip()}", [])


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_other_origins_are_refused(host: str) -> None:
    with pytest.raises(PermissionDenied, match="origin"):
        check_origin("POST", f"http://{host}", [])


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "localhost",
        "http://localhost/path",
        "http://localhost?x=1",
        "http://user@localhost",
        "http://evil.example\\@localhost",
        "://localhost",
        "http://",
    ],
)
def test_malformed_origins_are_refused(origin: str) -> None:
    with pytest.raises(PermissionDenied):
        check_origin("POST", origin, [])


def test_safe_methods_skip_the_origin_check() -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        check_origin(method, "http://127.0.0.1.evil.example", [])


def test_allowed_hosts_extend_both_checks_exactly() -> None:
    allowed = ["Gateway.LAN"]
    check_host("gateway.lan:8787", allowed)
    check_origin("POST", "http://GATEWAY.lan:8787", allowed)
    for bad in ("gateway.lan.evil.example", "evil.gateway.lan"):
        with pytest.raises(PermissionDenied):
            check_host(bad, allowed)
        with pytest.raises(PermissionDenied):
            check_origin("POST", f"http://{bad}", allowed)


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("LOCALHOST:8787", "localhost"),
        ("[::1]:8787", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost:", "localhost"),
        ("[::1]x", None),
        ("a b", None),
        ("host:port", None),
        ("", None),
    ],
)
def test_host_of_parses_one_authority(value: str, host: str | None) -> None:
    assert host_of(value) == host


def test_is_loopback_name_is_exact() -> None:
    assert is_loopback_name("127.0.0.1") and is_loopback_name("127.9.9.9") and is_loopback_name("::1")
    assert is_loopback_name("LOCALHOST")
    assert not is_loopback_name("127.0.0.1.evil.example")
    assert not is_loopback_name("127.")
    assert not is_loopback_name("::ffff:127.0.0.1")
    assert not is_loopback_name("")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "127.0.0.1.evil.example:8787"}, 403),
        ({"host": "localhost.evil.example"}, 403),
        ({"host": "[::ffff:127.0.0.1]:8787"}, 403),
        ({"host": "[::1]:8787"}, 200),
        ({"host": "LOCALHOST:8787"}, 200),
        ({"host": "localhost:8787", "origin": "http://127.0.0.1.evil.example"}, 403),
        ({"host": "localhost:8787", "origin": "http://[::1]:8787"}, 200),
    ],
)
async def test_the_app_applies_the_exact_checks(headers: dict[str, str], status: int) -> None:
    keys = KeyStore({}, KEY, use_keyring=False)
    app = create_app(Config(), gateway_key=KEY, keys=keys, env={}, transport=httpx.MockTransport(_refuse))
    async with app.test_app() as test_app:
        resp = await test_app.test_client().post(
            "/control/mode", json={"mode": "shadow"}, headers={"x-api-key": KEY, **headers}
        )
    assert resp.status_code == status


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no upstream call expected: {request.url}")
