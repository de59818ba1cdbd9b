"""The OpenAI error shape for Responses and Chat clients: every GatewayError class, pinned.

Status, ``type``, ``code`` and the ``retry-after`` rules (429 always has one, 529 becomes 503).
"""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core import errors as E
from stackbilt_gateway.daemon.wires.chat.response import render_chat_error
from stackbilt_gateway.daemon.wires.openai_errors import (
    failure_code,
    failure_message,
    render_openai_error,
)
from stackbilt_gateway.daemon.wires.responses.response import render_responses_error

# class → (HTTP status, type, code) with no upstream details
EXPECTED: dict[type[E.GatewayError], tuple[int, str, str | None]] = {
    E.InvalidRequest: (400, "invalid_request_error", None),
    E.AuthenticationFailed: (401, "authentication_error", "invalid_api_key"),
    E.PermissionDenied: (403, "permission_error", None),
    E.NotFound: (404, "not_found_error", None),
    E.UnknownModel: (404, "not_found_error", "model_not_found"),
    E.RequestTooLarge: (413, "invalid_request_error", "request_too_large"),
    E.NoProviderAvailable: (503, "server_error", None),
    E.InternalError: (500, "server_error", None),
    E.RateLimited: (429, "rate_limit_error", "rate_limit_exceeded"),
    E.UpstreamOverloaded: (503, "server_error", "server_is_overloaded"),
    E.UpstreamTimeout: (504, "server_error", None),
    E.UpstreamUnavailable: (502, "server_error", None),
    E.UpstreamProtocolError: (502, "server_error", None),
    E.UpstreamServerError: (500, "server_error", None),
    E.UpstreamRejected: (400, "invalid_request_error", None),
}


def test_table_covers_every_error_class() -> None:
    assert set(EXPECTED) == set(E.ALL_ERRORS)


@pytest.mark.parametrize("cls", E.ALL_ERRORS, ids=lambda c: c.__name__)
def test_shape_per_class(cls: type[E.GatewayError]) -> None:
    err = cls("something went wrong", param="input.3" if cls is E.InvalidRequest else None)
    status, headers, body = render_openai_error(err)
    want_status, want_type, want_code = EXPECTED[cls]
    assert status == want_status
    assert body == {
        "error": {
            "message": "something went wrong",
            "type": want_type,
            "param": "input.3" if cls is E.InvalidRequest else None,
            "code": want_code,
        }
    }
    # Codex retries a 429 only with retry-after: one is always set; nothing else gets one unasked.
    assert headers == ({"retry-after": "1"} if status == 429 else {})
    assert render_responses_error(err) == render_chat_error(err) == (status, headers, body)


@pytest.mark.parametrize("cls", E.ALL_ERRORS, ids=lambda c: c.__name__)
def test_retry_after_is_whole_seconds_rounded_up(cls: type[E.GatewayError]) -> None:
    status, headers, _ = render_openai_error(cls("x", retry_after=2.2))
    assert headers == {"retry-after": "3"}
    assert status == EXPECTED[cls][0]


def test_upstream_status_and_code_are_kept() -> None:
    err = E.UpstreamRejected("too long", status=422, upstream_code="context_length_exceeded")
    status, _, body = render_openai_error(err)
    assert status == 422
    assert body["error"] == {
        "message": "too long",
        "type": "invalid_request_error",
        "param": None,
        "code": "context_length_exceeded",
    }
    assert render_openai_error(E.UpstreamOverloaded("busy", retry_after=0.5))[:2] == (
        503,
        {"retry-after": "1"},
    )


def test_quota_exhaustion_is_not_made_retryable() -> None:
    err = E.RateLimited("You exceeded your current quota", upstream_code="insufficient_quota")
    status, headers, body = render_openai_error(err)
    assert (status, headers) == (429, {})
    assert body["error"]["code"] == "insufficient_quota"  # type: ignore[index]
    assert failure_code(err) == "insufficient_quota"


def test_failure_codes_for_response_failed() -> None:
    assert failure_code(E.RateLimited("slow down", retry_after=7.1)) == "rate_limit_exceeded"
    assert failure_message(E.RateLimited("slow down", retry_after=7.1)) == "slow down Please try again in 8s."
    assert failure_message(E.RateLimited("slow down")) == "slow down"
    overflow = E.UpstreamRejected("prompt too long", upstream_code="context_length_exceeded")
    assert failure_code(overflow) == "context_length_exceeded"
    assert failure_code(E.UpstreamOverloaded("busy")) == "server_error"
    assert failure_code(ValueError("bug")) == "server_error"
