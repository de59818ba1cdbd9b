"""The named clients file: ``<config_dir>/clients.json`` (0600), written by ``stackbilt-gw clients``.

Owns the file's format, creating a client with a fresh high-entropy key (returned once, stored
only as its SHA-256), listing and revoking. The daemon reads it through ``directory``. Holds no
key in clear text and never logs one. File I/O only; no network.

Format: ``{"version": 1, "clients": {"<name>": {"key_sha256": "<hex>", "created": <unix ts>,
"rpm": N|null, "tpm": N|null, "concurrency": N|null}}}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .settings import CLIENT_NAME

FILE_NAME = "clients.json"
KEY_PREFIX = "sgw-c-"
# The gateway's own key is this client; the name cannot be added or revoked.
DEFAULT_CLIENT = "local"


class ClientsFileError(Exception):
    """The clients file is unreadable or malformed, or a change to it is refused (message says why)."""


@dataclass(frozen=True, slots=True)
class StoredClient:
    name: str
    key_sha256: str
    created: float
    rpm: int | None = None
    tpm: int | None = None
    concurrency: int | None = None


def clients_file(config_dir: Path) -> Path:
    return config_dir / FILE_NAME


def hash_key(key: str) -> str:
    """The stored form of a client key (keys carry 256 bits of entropy: no salt or stretching needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _limit(path: Path, name: str, field: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ClientsFileError(f'{path}: "clients.{name}.{field}": expected a whole number >= 1 or null')
    return value


def read_clients(path: Path) -> dict[str, StoredClient]:
    """Every stored client by name ({} when the file does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ClientsFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientsFileError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    raw = data.get("clients") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise ClientsFileError(f'{path}: expected {{"version": 1, "clients": {{...}}}}')
    out: dict[str, StoredClient] = {}
    for name, entry in raw.items():
        digest = entry.get("key_sha256") if isinstance(entry, dict) else None
        if not CLIENT_NAME.fullmatch(name) or not isinstance(digest, str) or len(digest) != 64:
            raise ClientsFileError(f'{path}: "clients.{name}": expected a name and its key_sha256')
        created = entry.get("created", 0)
        out[name] = StoredClient(
            name,
            digest,
            float(created) if isinstance(created, int | float) else 0.0,
            *(_limit(path, name, f, entry.get(f)) for f in ("rpm", "tpm", "concurrency")),
        )
    return out


def write_clients(path: Path, clients: dict[str, StoredClient]) -> None:
    """Replace the file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {
        "version": 1,
        "clients": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in clients.values()},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def add_client(
    path: Path, name: str, *, rpm: int | None = None, tpm: int | None = None, concurrency: int | None = None
) -> str:
    """Create client ``name``; return its new key (shown once, never stored)."""
    if not CLIENT_NAME.fullmatch(name):
        raise ClientsFileError(
            f"{name!r} is not a valid client name: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name == DEFAULT_CLIENT:
        raise ClientsFileError(f"{DEFAULT_CLIENT!r} is the gateway key's own client (`stackbilt-gw key`)")
    for field, value in (("rpm", rpm), ("tpm", tpm), ("concurrency", concurrency)):
        if value is not None and value < 1:
            raise ClientsFileError(f"--{field} must be a whole number >= 1")
    clients = read_clients(path)
    if name in clients:
        raise ClientsFileError(f"client {name!r} exists; revoke it first to issue a new key")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    clients[name] = StoredClient(name, hash_key(key), time.time(), rpm, tpm, concurrency)
    write_clients(path, clients)
    return key


def revoke_client(path: Path, name: str) -> bool:
    """Remove client ``name`` (its key stops working); False when there was no such client."""
    clients = read_clients(path)
    if clients.pop(name, None) is None:
        return False
    write_clients(path, clients)
    return True
