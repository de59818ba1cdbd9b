"""Governance refusals as the gateway's errors, so each client wire renders them in its own shape.

Each refusal carries its rule id (``rule``: e.g. ``rate_limit.rpm``, ``policy.disabled_aliases``,
``budget.client.daily``) for the audit trail. Rate limits are 429 with ``retry-after`` (Anthropic
``rate_limit_error``, OpenAI ``rate_limit_exceeded``); policies are 403 (400 for an oversized
prompt); a blocked budget is 402 (Anthropic ``billing_error``, OpenAI ``insufficient_quota``: a
client must not retry it until the budget resets). Pure.
"""

from __future__ import annotations

from ..core.errors import GatewayError, InvalidRequest, PermissionDenied, RateLimited


class Refusal:
    """Mixin: the rule that refused the request."""

    rule: str = ""


class ClientRateLimited(RateLimited, Refusal):
    def __init__(self, message: str, *, rule: str, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after, upstream_code="rate_limit_exceeded")
        self.rule = rule


class PolicyRefused(PermissionDenied, Refusal):
    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(
            message, upstream_type="permission_error", upstream_code="policy_" + rule.split(".")[-1]
        )
        self.rule = rule


class PromptTooLarge(InvalidRequest, Refusal):
    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, upstream_code="prompt_too_large")
        self.rule = rule


class BudgetExceeded(GatewayError, Refusal):
    kind = "permission"
    default_status = 402

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, upstream_type="billing_error", upstream_code="insufficient_quota")
        self.rule = rule


def rule_of(err: BaseException) -> str | None:
    return err.rule if isinstance(err, Refusal) else None
