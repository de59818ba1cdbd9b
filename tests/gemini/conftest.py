"""Fixtures for the Gemini / Vertex AI tests: the fake Google upstream (with its OAuth token
endpoint), a throwaway service account, and gateways pointed at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from stackbilt_gateway.daemon.core.config import Config, ProviderSettings
from stackbilt_gateway.daemon.simulator.gemini import FakeGemini
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

MODEL = "gemini-3.8-flash"
PROJECT, LOCATION = "fake-project", "us-central1"
AUTH = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
BEARER = {"authorization": f"Bearer {GATEWAY_KEY}"}


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def fake_gemini(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeGemini]:
    fake = FakeGemini(public_key=rsa_key.public_key()).start()
    yield fake
    fake.stop()


@pytest.fixture
def gemini(fake_gemini: FakeGemini) -> FakeGemini:
    fake_gemini.reset()
    return fake_gemini


def write_service_account(path: Path, key: rsa.RSAPrivateKey, fake: FakeGemini) -> Path:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "fake-key-id-1",
        "private_key": pem,
        "client_email": fake.client_email,
        "client_id": "1234567890",
        "token_uri": fake.token_uri,
    }
    path.write_text(json.dumps(account))
    return path


@pytest.fixture(scope="session")
def account_file(
    tmp_path_factory: pytest.TempPathFactory, rsa_key: rsa.RSAPrivateKey, fake_gemini: FakeGemini
) -> Path:
    return write_service_account(tmp_path_factory.mktemp("sa") / "service-account.json", rsa_key, fake_gemini)


def google_env(fake: FakeGemini) -> dict[str, str]:
    return {
        "GEMINI_API_KEY": fake.api_key,
        "STACKBILT_GEMINI_BASE_URL": fake.url + "/v1beta",
        "STACKBILT_VERTEX_BASE_URL": fake.url
        + "/v1/projects/{project}/locations/{location}/publishers/google",
    }


def vertex_config(account: Path, **kw: object) -> Config:
    settings = ProviderSettings(project=PROJECT, location=LOCATION, credentials_file=str(account))
    return Config(providers={"vertex": settings}, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def gateway(fake_gemini: FakeGemini, account_file: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(env=google_env(fake_gemini), config=vertex_config(account_file)).start()
    yield gw
    gw.stop()
