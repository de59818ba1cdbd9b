"""Who a request is: key → client, and the client id it may narrow to.

``ClientDirectory`` holds the gateway key (the default client ``local``) and the named clients of
``clients.json`` by the SHA-256 of their keys. The file is re-read when it changes: every lookup
stats it (one syscall), so a ``clients add``/``revoke`` takes effect on the next request with no
restart. A file broken while the daemon runs keeps the last good table (and logs why); broken at
start-up, the daemon refuses to start. ``identify`` applies ``x-stackbilt-client`` (or the
envelope's ``client_id``): the gateway key may name any id that is not another named client; a
named client's key only its own name or ``<name>-…`` / ``<name>.…`` / ``<name>:…`` / ``<name>/…``
sub-ids. Limits for an id come from its client (config ``clients.<name>`` over the file's).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import ClientSettings, ConfigError
from ..core.errors import InvalidRequest, PermissionDenied
from .clients_store import DEFAULT_CLIENT, ClientsFileError, StoredClient, hash_key, read_clients
from .settings import CLIENT_ID

log = logging.getLogger("stackbilt_gateway.governance")

CLIENT_HEADER = "x-stackbilt-client"
GATEWAY_KEY_HEADER = "x-stackbilt-gateway-key"
_SUB_SEPARATORS = ("-", ".", ":", "/", "@")


@dataclass(frozen=True, slots=True)
class Identity:
    # The client whose key authenticated the request ("local" for the gateway key).
    client: str
    # The id the request is attributed to: ``client`` or a sub-id it narrowed to.
    client_id: str
    # True when the request named itself (a named client's key, or an explicit client id).
    explicit: bool


def key_candidates(headers: Mapping[str, str]) -> list[str]:
    """The values that may carry a gateway or client key, in the guard's order."""
    out = [headers.get(GATEWAY_KEY_HEADER), headers.get("x-api-key")]
    authorization = headers.get("authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        out.append(authorization[7:].strip())
    return [value for value in out if value]


class ClientDirectory:
    def __init__(self, path: Path, gateway_key: str, config_clients: Mapping[str, ClientSettings]) -> None:
        self.path = path
        self.gateway_key = gateway_key
        self.config_clients = dict(config_clients)
        self._stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, str] = {}
        self._stored: dict[str, StoredClient] = {}
        try:
            self._load(self._stat())
        except ClientsFileError as exc:
            raise ConfigError(str(exc)) from None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, stamp: tuple[int, int, int] | None) -> None:
        stored = read_clients(self.path) if stamp is not None else {}
        self._stored = stored
        self._by_hash = {c.key_sha256: c.name for c in stored.values()}
        self._stamp = stamp

    def refresh(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        try:
            self._load(stamp)
        except ClientsFileError as exc:
            self._stamp = stamp  # do not re-read a broken file on every request
            log.error("keeping the previous clients: %s", exc)

    @property
    def names(self) -> frozenset[str]:
        """Every named client (stored or configured) and ``local``."""
        return frozenset({DEFAULT_CLIENT, *self._stored, *self.config_clients})

    def lookup(self, key: str) -> str | None:
        """The client a key belongs to (constant-time on the matched digest), or None."""
        if hmac.compare_digest(key.encode("utf-8"), self.gateway_key.encode("utf-8")):
            return DEFAULT_CLIENT
        self.refresh()
        digest = hash_key(key)
        name = self._by_hash.get(digest)
        if name is None:
            return None
        found = self._stored[name].key_sha256
        return name if hmac.compare_digest(digest.encode(), found.encode()) else None

    def settings(self, client: str) -> ClientSettings:
        """The client's limits: the file's rpm/tpm/concurrency, overridden by config ``clients.<name>``."""
        stored = self._stored.get(client)
        base = ClientSettings()
        if stored is not None:
            base = ClientSettings(rpm=stored.rpm, tpm=stored.tpm, concurrency=stored.concurrency)
        configured = self.config_clients.get(client)
        if configured is None:
            return base
        return replace(
            configured,
            rpm=configured.rpm if configured.rpm is not None else base.rpm,
            tpm=configured.tpm if configured.tpm is not None else base.tpm,
            concurrency=configured.concurrency if configured.concurrency is not None else base.concurrency,
        )

    def owner_of(self, client_id: str) -> str:
        """The client a recorded client id belongs to (longest named prefix), else ``local``."""
        names = self.names
        if client_id in names:
            return client_id
        best = DEFAULT_CLIENT
        for name in names:
            if len(name) > len(best) and narrows(name, client_id):
                best = name
        return best

    def identify(self, headers: Mapping[str, str], requested: str | None = None) -> Identity:
        """The request's identity; ``requested``: an explicit id (else the x-stackbilt-client header)."""
        client = None
        for candidate in key_candidates(headers):
            client = self.lookup(candidate)
            if client is not None:
                break
        client = client or DEFAULT_CLIENT
        wanted = requested if requested is not None else headers.get(CLIENT_HEADER)
        if wanted is None or wanted == client:
            return Identity(client, client, client != DEFAULT_CLIENT or wanted is not None)
        if not CLIENT_ID.fullmatch(wanted):
            raise InvalidRequest(
                f"client id {wanted[:80]!r} is not valid: 1-128 letters, digits and . _ : / @ -",
                param="client_id",
            )
        if client == DEFAULT_CLIENT and wanted not in self.names:
            return Identity(client, wanted, True)
        if client != DEFAULT_CLIENT and narrows(client, wanted) and wanted not in self.names:
            return Identity(client, wanted, True)
        raise PermissionDenied(
            f"the key of client {client!r} may not act as client_id {wanted!r}: it may only narrow to "
            f"{client!r} or a sub-id such as {client + '-1'!r}"
        )


def narrows(client: str, client_id: str) -> bool:
    return any(client_id.startswith(client + sep) for sep in _SUB_SEPARATORS)
