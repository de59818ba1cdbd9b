"""Google OAuth2 access tokens for Vertex AI from a service-account JSON file.

Owns: reading and checking the service-account file (``GOOGLE_APPLICATION_CREDENTIALS`` or
``providers.vertex.credentials_file``; a missing, unreadable or non-service-account file is a
``CredentialFileError`` whose message names the file), the JWT-bearer grant (RFC 7523: an RS256
assertion signed with the account's key, ``aud`` = the account's own ``token_uri``, scope
``cloud-platform``, posted to that ``token_uri``), and ``TokenSource``: one cached access token,
refreshed ``REFRESH_MARGIN`` seconds before it expires, one refresh at a time for any number of
concurrent requests (an ``asyncio.Lock``). A failed refresh is ``AuthenticationFailed`` (401: the
token endpoint refused the account) or ``UpstreamUnavailable`` (502: it could not be reached or
answered nonsense), both naming the credential file. Signing uses ``cryptography`` directly, so the
whole path is async; it does not read keys for other providers (``credentials``) nor send requests
to Vertex itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..core.errors import AuthenticationFailed, UpstreamUnavailable

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
REFRESH_MARGIN = 300.0
TOKEN_TIMEOUT = 20.0
ENV_VAR = "GOOGLE_APPLICATION_CREDENTIALS"
_MAX_FILE = 64 * 1024


if TYPE_CHECKING:  # cryptography (~10 MiB) is loaded only when a service account is used
    from cryptography.hazmat.primitives.asymmetric import rsa


class CredentialFileError(Exception):
    """The service-account file cannot be used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    path: str
    client_email: str
    token_uri: str
    key_id: str | None
    key: rsa.RSAPrivateKey


def credentials_path(settings_file: str | None, env: Mapping[str, str]) -> str | None:
    """The configured service-account file: the config file's setting, else the environment."""
    if settings_file:
        return settings_file
    return env.get(ENV_VAR) or None


def load_service_account(path: str) -> ServiceAccount:
    """Read and check one service-account JSON file (raises ``CredentialFileError``)."""
    where = f"the Vertex AI credential file {path}"
    try:
        raw = Path(path).read_bytes()[: _MAX_FILE + 1]
    except FileNotFoundError:
        raise CredentialFileError(f"{where} does not exist") from None
    except OSError as exc:
        raise CredentialFileError(f"{where} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw) if len(raw) <= _MAX_FILE else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CredentialFileError(f"{where} is not a JSON object")
    if data.get("type") != "service_account":
        kind = data.get("type")
        raise CredentialFileError(
            f"{where} is not a service-account key (its type is {kind!r}); create one with "
            "`gcloud iam service-accounts keys create`"
        )
    fields = {name: data.get(name) for name in ("client_email", "private_key", "token_uri")}
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise CredentialFileError(f"{where} lacks {', '.join(missing)}")
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(str(fields["private_key"]).encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialFileError(f"{where} has an unreadable private_key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialFileError(f"{where} has a private_key that is not an RSA key")
    key_id = data.get("private_key_id")
    return ServiceAccount(
        path=path,
        client_email=str(fields["client_email"]),
        token_uri=str(fields["token_uri"]),
        key_id=key_id if isinstance(key_id, str) and key_id else None,
        key=key,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _segment(obj: Mapping[str, object]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def signed_assertion(account: ServiceAccount, now: float) -> str:
    """The RS256-signed JWT the token endpoint exchanges for an access token."""
    header: dict[str, object] = {"alg": "RS256", "typ": "JWT"}
    if account.key_id:
        header["kid"] = account.key_id
    issued = int(now)
    claims = {
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = account.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class TokenSource:
    """One service account's access token, refreshed before expiry (see the module docstring)."""

    def __init__(
        self,
        path: str,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.path = path
        self._clock = clock
        self._margin = margin
        self._transport = transport
        self._token: _Token | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.refreshes = 0

    def check(self) -> ServiceAccount:
        """The account, read now (start-up and ``doctor`` report a bad file this way)."""
        return load_service_account(self.path)

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and token.expires_at - self._clock() > self._margin:
            return token.value
        return None

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def token(self) -> str:
        """A valid access token; at most one refresh runs however many requests wait for it."""
        value = self._fresh()
        if value is not None:
            return value
        async with self._get_lock():
            value = self._fresh()  # another request refreshed it while this one waited
            if value is not None:
                return value
            self._token = await self._refresh()
            return self._token.value

    async def _refresh(self) -> _Token:
        try:
            account = load_service_account(self.path)
        except CredentialFileError as exc:
            raise AuthenticationFailed(str(exc), provider="vertex") from None
        now = self._clock()
        form = {"grant_type": GRANT_TYPE, "assertion": signed_assertion(account, now)}
        where = f"the token endpoint {account.token_uri} for the service account in {self.path}"
        try:
            async with httpx.AsyncClient(timeout=TOKEN_TIMEOUT, transport=self._transport) as client:
                resp = await client.post(account.token_uri, data=form, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"cannot refresh the Vertex AI access token: {where} failed ({exc or type(exc).__name__})",
                provider="vertex",
            ) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code in (400, 401, 403):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")
            raise AuthenticationFailed(
                f"the Vertex AI access token could not be refreshed: {where} refused it "
                f"(HTTP {resp.status_code}{': ' + detail if detail else ''})",
                provider="vertex",
            )
        value = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in", 3600) if isinstance(body, dict) else None
        if resp.status_code != 200 or not isinstance(value, str) or not value:
            raise UpstreamUnavailable(
                f"the Vertex AI access token could not be refreshed: {where} answered HTTP "
                f"{resp.status_code} without an access_token",
                provider="vertex",
            )
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = 3600
        self.refreshes += 1
        return _Token(value, now + float(lifetime))
