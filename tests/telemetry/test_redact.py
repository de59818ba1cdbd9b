"""Secret redaction: every pattern, and text that must survive untouched."""

from __future__ import annotations

import importlib

import pytest

from stackbilt_gateway.daemon.telemetry import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-ant-api03-abcdefghijklmnop_QRS-tuv done", "key sk-ant-*** done"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz12", "sk-***"),
        ("OPENAI sk-abcdefghijklmnopqrstuv", "OPENAI sk-***"),
        ("gsk_abcdefghijklmnopqrstuvwxyz", "gsk_***"),
        ("Authorization: Bearer abc.def-ghi_jkl123", "Authorization: Bearer ***"),
        ("AKIAIOSFODNN7EXAMPLE in env", "AKIA*** in env"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=***"),
        ('{"api_key": "hunter22"}', '{"api_key": "***"}'),
        ("password: s3cretpw", "password: ***"),
        ("x-api-key: abcdef123456", "x-api-key: ***"),
        ("GROQ_API_KEY=abc123456", "GROQ_API_KEY=***"),
        ("token=abc123xyz&x=1", "token=***&x=1"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123", "gh_***"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "AIza***"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk", "jwt jwt:***"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "-----PRIVATE KEY ***-----",
        ),
    ],
)
def test_secrets_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no secrets here, tokens: 5",
        "the sky is blue; ask-me-anything",
        "input_tokens=1234 output_tokens=56",
        "rate limited: retry after 30 s",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_the_package_name_is_the_shared_function_even_after_the_submodule_is_imported() -> None:
    submodule = importlib.import_module("stackbilt_gateway.daemon.telemetry.redact")
    telemetry = importlib.import_module("stackbilt_gateway.daemon.telemetry")
    shared = importlib.import_module("stackbilt_gateway.daemon.storage.redact")
    assert telemetry.redact is submodule.redact is shared.redact
    assert telemetry.redact("token=abcd1234") == "token=***"
