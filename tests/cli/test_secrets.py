"""Provider keys through a real Secret Service keyring, env overrides, the cache and refusals."""

from __future__ import annotations

import logging

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import chainer

from stackbilt_gateway.daemon.control.secrets import (
    SERVICE,
    KeyringUnavailable,
    KeyStore,
    check_backend,
    delete_key,
    key_presence,
    set_key,
)
from stackbilt_gateway.daemon.core.providers import ProviderSpec, builtin_providers

GATEWAY_KEY = "sgw-test-gateway-key"


def spec(name: str) -> ProviderSpec:
    return builtin_providers()[name]


class _Plaintext(keyring.backend.KeyringBackend):
    """Stands in for keyrings.alt's plaintext file backend (not installed on purpose)."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return "stored-in-clear"

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("must never be written")

    def delete_password(self, service: str, username: str) -> None:
        raise AssertionError("must never be called")


_Plaintext.__module__ = "keyrings.alt.file"


class _Locked(keyring.backend.KeyringBackend):
    priority = 1
    calls = 0

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        type(self).calls += 1
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


# --- round trip through the real keyring ---------------------------------------------------------


def test_set_get_delete_round_trip(real_keyring: keyring.backend.KeyringBackend) -> None:
    check_backend()
    set_key("groq", "gsk_real_value")
    assert keyring.get_password(SERVICE, "groq") == "gsk_real_value"
    assert KeyStore({}, GATEWAY_KEY).get(spec("groq")) == "gsk_real_value"
    assert delete_key("groq") is True
    assert keyring.get_password(SERVICE, "groq") is None
    assert delete_key("groq") is False
    assert KeyStore({}, GATEWAY_KEY).get(spec("groq")) is None


def test_key_presence_never_shows_values(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("groq", "gsk_in_keyring")
    presence = key_presence({"OPENAI_API_KEY": "sk-env", "ANTHROPIC_API_KEY": GATEWAY_KEY}, GATEWAY_KEY)
    assert presence["groq"] == "keyring"
    assert presence["openai"] == "env (OPENAI_API_KEY)"
    assert presence["cerebras"] == "not set"
    assert presence["ollama"] == "not needed"
    assert presence["anthropic"] == "not set (ANTHROPIC_API_KEY equals the gateway key; ignored)"
    text = repr(presence)
    assert "gsk_in_keyring" not in text and "sk-env" not in text and GATEWAY_KEY not in text


def test_env_overrides_keyring(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("groq", "from-keyring")
    store = KeyStore({"GROQ_API_KEY": "from-env"}, GATEWAY_KEY)
    assert store.get(spec("groq")) == "from-env"
    assert store.source(spec("groq")) == "env (GROQ_API_KEY)"
    assert KeyStore({"GROQ_API_KEY": "  "}, GATEWAY_KEY).get(spec("groq")) == "from-keyring"


def test_gateway_key_in_env_is_ignored_with_one_warning(
    real_keyring: keyring.backend.KeyringBackend, caplog: pytest.LogCaptureFixture
) -> None:
    set_key("anthropic", "sk-ant-real")
    store = KeyStore({"ANTHROPIC_API_KEY": GATEWAY_KEY}, GATEWAY_KEY)
    with caplog.at_level(logging.WARNING, logger="stackbilt_gateway.daemon.control.secrets"):
        for _ in range(3):
            assert store.get(spec("anthropic")) == "sk-ant-real"  # falls through to the keyring
    assert store.ignored_gateway_key(spec("anthropic"))
    assert not store.ignored_gateway_key(spec("groq"))
    warnings = [r for r in caplog.records if "gateway's own key" in r.getMessage()]
    assert len(warnings) == 1
    assert GATEWAY_KEY not in caplog.text and "sk-ant-real" not in caplog.text


def test_gateway_key_in_keyring_is_ignored(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("anthropic", GATEWAY_KEY)
    store = KeyStore({}, GATEWAY_KEY)
    assert store.get(spec("anthropic")) is None
    assert store.ignored_gateway_key(spec("anthropic"))


def test_cache_does_not_hit_keyring_within_ttl(real_keyring: keyring.backend.KeyringBackend) -> None:
    now = [1000.0]
    store = KeyStore({}, GATEWAY_KEY, clock=lambda: now[0])
    set_key("deepseek", "ds-1")
    assert store.get(spec("deepseek")) == "ds-1"
    keyring.delete_password(SERVICE, "deepseek")  # deleted under the store's feet
    now[0] += 29.0
    assert store.get(spec("deepseek")) == "ds-1"  # served from memory: no D-Bus round trip
    now[0] += 2.0
    assert store.get(spec("deepseek")) is None  # TTL passed: re-read
    set_key("deepseek", "ds-2")
    assert store.get(spec("deepseek")) is None  # absence is cached too
    store.invalidate()
    assert store.get(spec("deepseek")) == "ds-2"


def test_use_keyring_false_reads_env_only(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("groq", "from-keyring")
    assert KeyStore({}, GATEWAY_KEY, use_keyring=False).get(spec("groq")) is None


def test_repr_has_no_values(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("groq", "gsk_secret_value")
    store = KeyStore({"OPENAI_API_KEY": "sk-secret"}, GATEWAY_KEY)
    store.get(spec("groq"))
    assert "secret" not in repr(store) and GATEWAY_KEY not in repr(store)


# --- refusing insecure or unusable backends ------------------------------------------------------


def test_fail_backend_is_refused_with_the_fix() -> None:
    with pytest.raises(KeyringUnavailable) as err:
        check_backend()
    message = str(err.value)
    assert "no secure keyring" in message
    assert "gnome-keyring / KWallet" in message and "GROQ_API_KEY" in message
    with pytest.raises(KeyringUnavailable):
        set_key("groq", "x")
    with pytest.raises(KeyringUnavailable):
        delete_key("groq")


def test_null_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    keyring.core.init_backend()
    with pytest.raises(KeyringUnavailable, match="no secure keyring"):
        check_backend()


def test_plaintext_backend_is_refused_and_never_read() -> None:
    keyring.set_keyring(_Plaintext())
    with pytest.raises(KeyringUnavailable, match=r"keyrings\.alt\.file\._Plaintext"):
        check_backend()
    assert KeyStore({}, GATEWAY_KEY).get(spec("groq")) is None


def test_chain_containing_an_insecure_backend_is_refused(secret_service: None) -> None:
    class Chain(chainer.ChainerBackend):
        backends = [keyring.core.load_keyring("keyring.backends.SecretService.Keyring"), _Plaintext()]

    keyring.set_keyring(Chain())
    with pytest.raises(KeyringUnavailable, match="insecure backend in the chain"):
        check_backend()


def test_backend_that_cannot_load_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    keyring.core._keyring_backend = None  # force lazy re-initialisation, as in a fresh process
    with pytest.raises(KeyringUnavailable, match="no secure keyring"):
        check_backend()


@pytest.mark.parametrize(
    "exc",
    [keyring.errors.InitError("Failed to unlock: Prompt dismissed"), keyring.errors.KeyringLocked("locked")],
    ids=["prompt-dismissed", "locked"],
)
def test_locked_keyring_says_unlock(exc: Exception) -> None:
    keyring.set_keyring(_Locked(exc))
    with pytest.raises(KeyringUnavailable, match="unlock your keyring"):
        check_backend()


def test_read_errors_count_as_absent_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    _Locked.calls = 0
    keyring.set_keyring(_Locked(keyring.errors.KeyringLocked("locked")))
    store = KeyStore({"GROQ_API_KEY": "gsk-env"}, GATEWAY_KEY, ttl=0.0)
    with caplog.at_level(logging.WARNING, logger="stackbilt_gateway.daemon.control.secrets"):
        assert store.get(spec("groq")) == "gsk-env"  # env keys keep working
        assert store.get(spec("cerebras")) is None
        assert store.get(spec("cerebras")) is None
    assert _Locked.calls == 2  # retried after the TTL (0 here), never raised
    assert len([r for r in caplog.records if "not reading the keyring" in r.getMessage()]) == 1
    assert store.keyring_problem is not None and "unlock your keyring" in store.keyring_problem


async def test_aget_reads_the_keyring_off_the_loop(real_keyring: keyring.backend.KeyringBackend) -> None:
    set_key("groq", "gsk-async")
    store = KeyStore({}, GATEWAY_KEY)
    assert await store.aget(spec("groq")) == "gsk-async"
    keyring.delete_password(SERVICE, "groq")
    assert await store.aget(spec("groq")) == "gsk-async"  # cached
