"""The gateway's own client key: the secret Claude Code / Codex present to the daemon.

Owns where the key comes from (``STACKBILT_GATEWAY_KEY`` or a 0600 file in the config dir),
creating it once with a cryptographically random value, and comparing keys in constant time.
Does not own provider keys (``secrets``) or HTTP authentication (the http package calls
``keys_equal``).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from .paths import Paths

ENV_GATEWAY_KEY = "STACKBILT_GATEWAY_KEY"
KEY_PREFIX = "sgw-"

log = logging.getLogger(__name__)


def generate_gateway_key() -> str:
    """A fresh random key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def keys_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two keys (works for any text, not only ASCII)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if sys.platform != "win32":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("gateway key file %s was readable by others; restricting it to 0600", path)
            path.chmod(0o600)
    return text or None


def _write_new_key(path: Path, key: str) -> str:
    """Create ``path`` holding ``key`` unless another process won the race; return the stored key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() fails if the file exists: two processes starting at once agree on one key.
            os.link(tmp, path)
        except FileExistsError:
            existing = _read_key(path)
            if existing:
                return existing
            os.replace(tmp, path)  # an empty/blank file: replace it
        except OSError:
            os.replace(tmp, path)  # file systems without hard links
    finally:
        tmp.unlink(missing_ok=True)
    return key


def read_gateway_key(paths: Paths, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Like ``load_or_create_gateway_key`` but never creates the file (for ``status``)."""
    from_env = env.get(ENV_GATEWAY_KEY, "").strip()
    if from_env:
        return from_env, f"environment ({ENV_GATEWAY_KEY})"
    existing = _read_key(paths.gateway_key_file)
    return (existing, f"file {paths.gateway_key_file}") if existing else None


def load_or_create_gateway_key(paths: Paths, env: Mapping[str, str]) -> tuple[str, str]:
    """Return ``(key, where it came from)``; create the key file on first use."""
    found = read_gateway_key(paths, env)
    if found is not None:
        return found
    path = paths.gateway_key_file
    key = _write_new_key(path, generate_gateway_key())
    return key, f"file {path} (created)"
