"""Provider API keys: the OS keyring, environment overrides, and the in-memory cache.

Owns reading, storing and deleting provider keys (keyring service ``stackbilt-llm-gateway``,
username = provider name), refusing insecure keyring backends, and the gateway-key trap
(DESIGN.md §6: a "provider key" equal to the gateway key is ignored). Never logs, prints or
reprs a key value. Does not own the gateway's own client key (``gatewaykey``) nor how keys are
sent upstream (providers).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import keyring
import keyring.backend
import keyring.errors

from ..core.providers import ProviderSpec, builtin_providers
from ..storage.redact import remember_secret
from .gatewaykey import keys_equal

SERVICE = "stackbilt-llm-gateway"
CACHE_TTL = 30.0

log = logging.getLogger(__name__)

_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")
_LOCKED_ADVICE = (
    "the keyring is locked: unlock your keyring (log in to the desktop session, or run "
    "`gnome-keyring-daemon --unlock` / open KWallet), or set the provider's key variable "
    "(e.g. GROQ_API_KEY) in the daemon's environment"
)


class KeyringUnavailable(Exception):
    """No secure, usable keyring; the message says how to fix it."""


def _no_secure_keyring(reason: str) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"no secure keyring ({reason}): start a Secret Service (gnome-keyring / KWallet) in your "
        "desktop session, or set the provider's key variable (e.g. GROQ_API_KEY) in the daemon's "
        "environment"
    )


def _describe(backend: keyring.backend.KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _insecure(backend: keyring.backend.KeyringBackend) -> bool:
    return type(backend).__module__.startswith(_INSECURE_MODULES)


def _backend() -> keyring.backend.KeyringBackend:
    try:
        return keyring.get_keyring()
    except (RuntimeError, ImportError, keyring.errors.KeyringError) as exc:
        # e.g. PYTHON_KEYRING_BACKEND names a backend that is not viable here.
        raise _no_secure_keyring(f"keyring backend failed to load: {exc}") from None


def _translate(exc: Exception) -> KeyringUnavailable:
    if isinstance(exc, keyring.errors.KeyringLocked) or (
        isinstance(exc, keyring.errors.InitError) and "dismissed" in str(exc).lower()
    ):
        return KeyringUnavailable(_LOCKED_ADVICE)
    if isinstance(exc, keyring.errors.NoKeyringError):
        return _no_secure_keyring("no keyring backend available")
    return _no_secure_keyring(f"{type(exc).__name__}: {exc}")


def _check_static(backend: keyring.backend.KeyringBackend) -> None:
    members = getattr(backend, "backends", None)
    if members is not None:  # ChainerBackend: every member must be secure, and one must exist
        bad = [_describe(b) for b in members if _insecure(b)]
        if bad:
            raise _no_secure_keyring("insecure backend in the chain: " + ", ".join(bad))
        if not members:
            raise _no_secure_keyring("no keyring backend available")
    elif _insecure(backend):
        raise _no_secure_keyring(f"{_describe(backend)} stores nothing or stores plain text")


def check_backend() -> None:
    """Raise ``KeyringUnavailable`` unless the active keyring backend is secure and usable."""
    backend = _backend()
    _check_static(backend)
    try:
        backend.get_password(SERVICE, "__probe__")
    except keyring.errors.KeyringError as exc:
        raise _translate(exc) from None


def set_key(provider: str, value: str) -> None:
    """Store a provider key in the keyring (after ``check_backend``)."""
    check_backend()
    try:
        keyring.set_password(SERVICE, provider, value)
    except keyring.errors.KeyringError as exc:
        raise _translate(exc) from None


def delete_key(provider: str) -> bool:
    """Delete a stored provider key; False when none was stored."""
    check_backend()
    try:
        if keyring.get_password(SERVICE, provider) is None:
            return False
        keyring.delete_password(SERVICE, provider)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as exc:
        raise _translate(exc) from None
    return True


@dataclass(frozen=True, slots=True)
class _Resolved:
    value: str | None
    source: str  # "env (GROQ_API_KEY)" | "keyring" | "" when absent
    ignored_gateway_key: bool


@dataclass(slots=True)
class _Cached:
    value: str | None
    at: float


class KeyStore:
    """Provider keys for the daemon: env first, then the keyring, cached for ``CACHE_TTL`` seconds.

    Keyring failures never raise out of ``get``: they are logged once and the key counts as absent,
    so a headless daemon keeps serving with environment keys.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        gateway_key: str,
        *,
        use_keyring: bool = True,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = dict(env)
        self._gateway_key = gateway_key
        self._use_keyring = use_keyring
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._warned_gateway: set[str] = set()
        self._keyring_problem: str | None = None
        self._backend_checked = False
        self._keyring_refused = False
        self._reported = False
        # Every key this store can hand out is masked wherever the daemon writes text.
        remember_secret(gateway_key)
        for spec in builtin_providers().values():
            for var in spec.key_env:
                remember_secret(self._env.get(var))

    def __repr__(self) -> str:
        return f"KeyStore(use_keyring={self._use_keyring}, cached={sorted(self._cache)})"

    @property
    def keyring_problem(self) -> str | None:
        """Why the keyring is not being used, if it failed (for ``status``/``doctor``)."""
        return self._keyring_problem

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, spec: ProviderSpec) -> str | None:
        """The key to send upstream for ``spec``, or None."""
        return self._resolve(spec).value

    async def aget(self, spec: ProviderSpec) -> str | None:
        """``get`` for request handlers: a stale cache entry is refreshed off the event loop."""
        for var in spec.key_env:  # environment keys need no thread hop (the hot path)
            value = self._env.get(var, "").strip()
            if value and not keys_equal(value, self._gateway_key):
                return value
        if not self._use_keyring or self._fresh(spec.name):
            return self.get(spec)
        return await asyncio.to_thread(self.get, spec)

    def _fresh(self, provider: str) -> bool:
        with self._lock:
            cached = self._cache.get(provider)
            return cached is not None and self._clock() - cached.at < self._ttl

    def source(self, spec: ProviderSpec) -> str:
        """Where the key comes from: "env (GROQ_API_KEY)" | "keyring" | "not set" | "not needed"."""
        resolved = self._resolve(spec)
        if resolved.value is not None:
            return resolved.source
        if spec.key_optional or spec.auth == "none":
            return "not needed"
        return "not set"

    def ignored_gateway_key(self, spec: ProviderSpec) -> bool:
        """True when a key source for ``spec`` held the gateway key and was ignored."""
        return self._resolve(spec).ignored_gateway_key

    def _is_gateway_key(self, spec: ProviderSpec, origin: str, value: str) -> bool:
        if not keys_equal(value, self._gateway_key):
            return False
        if spec.name not in self._warned_gateway:
            self._warned_gateway.add(spec.name)
            log.warning(
                "%s for provider %s equals the gateway's own key (clients use it to reach the "
                "gateway); ignoring it for upstream calls. Set the real %s key instead.",
                origin,
                spec.name,
                spec.display_name,
            )
        return True

    def _resolve(self, spec: ProviderSpec) -> _Resolved:
        ignored = False
        for var in spec.key_env:
            value = self._env.get(var, "").strip()
            if not value:
                continue
            if self._is_gateway_key(spec, var, value):
                ignored = True
                continue
            return _Resolved(value, f"env ({var})", ignored)
        stored = self._keyring_value(spec.name)
        if stored and self._is_gateway_key(spec, "the keyring entry", stored):
            return _Resolved(None, "", True)
        if stored:
            return _Resolved(stored, "keyring", ignored)
        return _Resolved(None, "", ignored)

    def _keyring_value(self, provider: str) -> str | None:
        if not self._use_keyring:
            return None
        with self._lock:
            now = self._clock()
            cached = self._cache.get(provider)
            if cached is not None and now - cached.at < self._ttl:
                return cached.value
            value = self._read_keyring(provider)
            self._cache[provider] = _Cached(value, now)
            return value

    def _read_keyring(self, provider: str) -> str | None:
        if self._keyring_refused:
            return None
        try:
            if not self._backend_checked:
                self._backend_checked = True
                _check_static(_backend())
            value = keyring.get_password(SERVICE, provider)
        except KeyringUnavailable as exc:  # insecure backend: never read it
            self._keyring_refused = True
            self._report(str(exc))
            return None
        except (keyring.errors.KeyringError, RuntimeError) as exc:  # maybe transient (locked)
            self._report(str(_translate(exc)))
            return None
        self._keyring_problem = None
        remember_secret(value)
        return value

    def _report(self, problem: str) -> None:
        if self._keyring_problem is None and not self._reported:
            log.warning("provider keys: not reading the keyring: %s", problem)
        self._reported = True
        self._keyring_problem = problem


def key_presence(env: Mapping[str, str], gateway_key: str) -> dict[str, str]:
    """Provider name -> where its key comes from (never the value), for ``status`` / ``keys list``."""
    store = KeyStore(env, gateway_key)
    result: dict[str, str] = {}
    for name, spec in builtin_providers().items():
        where = store.source(spec)
        if store.ignored_gateway_key(spec) and where in ("not set", "not needed"):
            var = spec.key_env[0] if spec.key_env else "its key"
            where = f"{where} ({var} equals the gateway key; ignored)"
        result[name] = where
    return result
