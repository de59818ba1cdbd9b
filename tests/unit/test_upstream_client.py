"""The shared upstream client against a real aiohttp server on loopback: what goes on the wire
(no cookie jar, identity encoding, the gateway's user agent), URL reuse, failure mapping, and
TLS verification (with a CA added through SSL_CERT_FILE)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stackbilt_gateway.daemon.core.config import Timeouts
from stackbilt_gateway.daemon.core.errors import UpstreamTimeout, UpstreamUnavailable
from stackbilt_gateway.daemon.upstream.client import USER_AGENT, UpstreamClient


async def _echo(request: web.Request) -> web.Response:
    resp = web.json_response(
        {
            "path_qs": request.path_qs,
            "cookie": request.headers.get("cookie"),
            "accept-encoding": request.headers.get("accept-encoding"),
            "user-agent": request.headers.get("user-agent"),
            "body": (await request.read()).decode(),
        }
    )
    # Upstreams (CDNs) set cookies; a gateway must never send them back on later requests.
    resp.set_cookie("__cf_bm", "tracking-value")
    return resp


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    app.router.add_post("/slow", _slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _post(client: UpstreamClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    resp = await client.open("POST", url, headers=headers, content=b"{}", provider="test")
    try:
        data: dict[str, str] = json.loads(await resp.read(1 << 20))
    finally:
        await resp.aclose()
    return data


async def test_no_cookie_jar_identity_encoding_and_the_gateway_user_agent(server: str) -> None:
    client = UpstreamClient(Timeouts())
    try:
        first = await _post(client, f"{server}/echo?beta=true", {"content-type": "application/json"})
        assert first["path_qs"] == "/echo?beta=true" and first["body"] == "{}"
        assert first["accept-encoding"] == "identity"  # bodies are read raw: never compressed
        assert first["user-agent"] == USER_AGENT
        second = await _post(
            client, f"{server}/echo", {"User-Agent": "claude-cli/2", "Accept-Encoding": "br"}
        )
        assert second["cookie"] is None  # the first response's Set-Cookie was not kept
        assert second["path_qs"] == "/echo"  # a reused parsed URL does not leak its query
        assert second["user-agent"] == "claude-cli/2" and second["accept-encoding"] == "br"
    finally:
        await client.aclose()


async def test_first_byte_timeout_and_refused_connection_are_mapped(server: str) -> None:
    client = UpstreamClient(Timeouts(first_byte=0.3))
    try:
        with pytest.raises(UpstreamTimeout, match="timed out"):
            await client.open("POST", f"{server}/slow", headers={}, content=b"", provider="test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        with pytest.raises(UpstreamUnavailable, match="cannot connect"):
            await client.open(
                "POST", f"http://127.0.0.1:{closed}/x", headers={}, content=b"", provider="test"
            )
    finally:
        await client.aclose()


def _tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a 127.0.0.1 server certificate it signed: (ca.pem, cert.pem, key.pem)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


async def test_tls_upstreams_are_verified_against_the_ca_bundle_ssl_cert_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA bundle named by SSL_CERT_FILE (a corporate CA) is used; an unknown CA is refused."""
    ca, cert, key = _tls_files(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_post("/echo", _echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/echo"  # type: ignore[union-attr]
    try:
        untrusted = UpstreamClient(Timeouts(connect=5))
        try:
            with pytest.raises(UpstreamUnavailable, match="certificate"):
                await untrusted.open("POST", url, headers={}, content=b"{}", provider="t")
        finally:
            await untrusted.aclose()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        trusted = UpstreamClient(Timeouts(connect=5))
        try:
            assert (await _post(trusted, url, {}))["body"] == "{}"
        finally:
            await trusted.aclose()
    finally:
        await runner.cleanup()
