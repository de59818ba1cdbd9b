"""Every GatewayError class rendered in the Anthropic error shape (protocols.md §1.7), pinned."""

from __future__ import annotations

import pytest

from stackbilt_gateway.daemon.core import errors
from stackbilt_gateway.daemon.core.errors import ALL_ERRORS, GatewayError
from stackbilt_gateway.daemon.wires.anthropic.response import error_type_for, render_error

EXPECTED: dict[type[GatewayError], tuple[int, str]] = {
    errors.InvalidRequest: (400, "invalid_request_error"),
    errors.AuthenticationFailed: (401, "authentication_error"),
    errors.PermissionDenied: (403, "permission_error"),
    errors.NotFound: (404, "not_found_error"),
    errors.UnknownModel: (404, "not_found_error"),
    errors.RequestTooLarge: (413, "request_too_large"),
    errors.NoProviderAvailable: (503, "api_error"),
    errors.InternalError: (500, "api_error"),
    errors.RateLimited: (429, "rate_limit_error"),
    errors.UpstreamOverloaded: (529, "overloaded_error"),
    errors.UpstreamTimeout: (504, "timeout_error"),
    errors.UpstreamUnavailable: (502, "api_error"),
    errors.UpstreamProtocolError: (502, "api_error"),
    errors.UpstreamServerError: (500, "api_error"),
    errors.UpstreamRejected: (400, "invalid_request_error"),
}


def test_table_covers_every_error_class() -> None:
    assert set(EXPECTED) == set(ALL_ERRORS)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_error_shape(cls: type[GatewayError]) -> None:
    status, err_type = EXPECTED[cls]
    err = cls(f"{cls.__name__} happened")
    got_status, headers, body = render_error(err)
    assert got_status == status
    assert body == {"type": "error", "error": {"type": err_type, "message": f"{cls.__name__} happened"}}
    assert headers == {}  # no retry-after without err.retry_after, even for 429/529
    assert error_type_for(err) == err_type


def test_rate_limited_retry_after_rounds_up() -> None:
    status, headers, body = render_error(errors.RateLimited("slow down", retry_after=7.2), request_id="req_1")
    assert status == 429 and headers == {"retry-after": "8"}
    assert body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
        "request_id": "req_1",
    }


@pytest.mark.parametrize(
    ("status", "err_type"),
    [
        (402, "billing_error"),
        (409, "invalid_request_error"),
        (422, "invalid_request_error"),
        (503, "api_error"),
    ],
)
def test_upstream_statuses_kept(status: int, err_type: str) -> None:
    err = errors.from_upstream_status(status, "m")
    got_status, _, body = render_error(err)
    assert got_status == status and body["error"] == {"type": err_type, "message": "m"}


def test_known_upstream_type_wins_unknown_is_ignored() -> None:
    err = errors.from_upstream_status(500, "busy", upstream_type="overloaded_error")
    assert render_error(err)[2]["error"] == {"type": "overloaded_error", "message": "busy"}
    err = errors.from_upstream_status(500, "x", upstream_type="server_error")
    assert render_error(err)[2]["error"] == {"type": "api_error", "message": "x"}
