"""Admission: the one governance step of every model request, and its release when it ends.

``Governance.admit`` runs once per request right after its model resolved: it attributes the
request to a client id (``directory``), applies the policies (``policies``), the budgets
(``budgets``: ``block`` refuses, ``degrade`` sets ``context.degrade`` for routing, ``warn`` sets
the response header) and the rate limits (``limiter``). A refusal sets ``context.refusal`` (the
rule) and raises the error the client's wire renders; nothing has been sent upstream. An admitted
request carries an ``Admitted`` in its context; ``compose.settle`` releases it when the record is
finished: the concurrency slot is freed, the token charge corrected by the real usage, and the
exact cost added to the budgets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.config import ClientSettings, Config
from ..core.context import RequestRecord
from ..core.ir import GatewayRequest
from ..core.tokens import estimate_request_tokens
from ..costs.prices import PriceBook
from . import audit, policies
from .budgets import BudgetBook, day_start, month_start, resets_at
from .directory import ClientDirectory, Identity
from .errors import BudgetExceeded, rule_of
from .limiter import RateLimiter, Ticket
from .notice import budget_warning

log = logging.getLogger("stackbilt_gateway.governance")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


@dataclass(slots=True)
class Admitted:
    """An admitted request's claim on its client's limits, released once at its end."""

    governance: Governance
    ticket: Ticket
    limits: ClientSettings
    client: str

    def release(self, record: RequestRecord) -> None:
        self.governance.release(self, record)


class Governance:
    def __init__(
        self,
        config: Config,
        directory: ClientDirectory,
        prices: PriceBook,
        *,
        limiter: RateLimiter | None = None,
        budgets: BudgetBook | None = None,
    ) -> None:
        self.config = config
        self.directory = directory
        self.prices = prices
        self.limiter = limiter or RateLimiter()
        self.budgets = budgets or BudgetBook(config)

    def admit(
        self,
        record: RequestRecord,
        request: GatewayRequest,
        provider: str,
        upstream_model: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        client_id: str | None = None,
    ) -> None:
        ctx = record.context
        try:
            identity = self.directory.identify(headers, client_id)
            ctx.client_id = identity.client_id
            self._admit(record, identity, request, provider, upstream_model, body)
        except Exception as exc:
            ctx.refusal = rule_of(exc)
            raise

    def _admit(
        self,
        record: RequestRecord,
        identity: Identity,
        request: GatewayRequest,
        provider: str,
        upstream_model: str,
        body: Mapping[str, Any],
    ) -> None:
        ctx = record.context
        limits = self.directory.settings(identity.client)
        # Estimated only when a limit reads it (it serialises the messages: ~1 ms on 200 KB turns).
        needed = limits.tpm is not None or self.config.policies.max_prompt_tokens is not None
        prompt_tokens = estimate_request_tokens(dict(body)) if needed else 0
        policies.check(
            self.config.policies,
            identity,
            limits,
            model=request.model,
            provider=provider,
            upstream_model=upstream_model,
            repo=ctx.repo,
            prompt_tokens=prompt_tokens,
        )
        ctx.allowed_providers = policies.allowed_providers(self.config.policies, limits, ctx.repo)
        self._budgets(record, identity)
        ticket = self.limiter.admit(identity.client_id, limits, prompt_tokens + (request.max_tokens or 0))
        ctx.admission = Admitted(self, ticket, limits, identity.client)

    def _budgets(self, record: RequestRecord, identity: Identity) -> None:
        ctx = record.context
        warnings: list[str] = []
        for budget, spent in self.budgets.over(identity.client, ctx.repo):
            reset = resets_at(budget.period, self.budgets.clock())
            words = (
                f"{budget.label} (${budget.limit_usd:.2f}) is used up: ${spent:.2f} spent; "
                f"it resets at {_when(reset)}"
            )
            if budget.action == "block":
                raise BudgetExceeded(f"Budget exceeded: {words}", rule=budget.rule)
            if budget.action == "degrade":
                ctx.degrade = True
            warnings.append(f"{budget.rule}: {words}")
        if warnings:
            budget_warning.set("; ".join(warnings))

    def release(self, admitted: Admitted, record: RequestRecord) -> None:
        u = record.usage
        used = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens + u.output_tokens
        self.limiter.release(admitted.ticket, used if record.provider else 0, admitted.limits)
        if record.provider and record.context.response_hit is None:
            cost = self.prices.cost(
                record.provider, record.upstream_model, u, record.context.price_conditions
            )
            if cost.priced:
                self.budgets.add(admitted.client, record.context.repo, cost.total)

    def seed(self, db_path: Path) -> None:
        """Load this month's spend from the telemetry database (blocking: call in a thread)."""
        now = time.time()
        try:
            rows = audit.spend_since(db_path, month_start(now), day_start(now), now - 3600)
        except Exception:  # an unreadable database never stops serving; budgets start from zero
            log.exception("governance: reading this month's spend failed")
            return
        for row in rows:
            client = self.directory.owner_of(str(row["client_id"]))
            repo = row["repo"]
            day, month, hour = float(row["day_usd"]), float(row["month_usd"]), float(row["hour_usd"])
            self.budgets.add(client, repo, month - day, when=month_start(now))
            self.budgets.add(client, repo, day - hour, when=day_start(now))
            self.budgets.add(client, repo, hour, when=now - 1800)

    def snapshot(self) -> dict[str, Any]:
        """Clients (never keys), limiter size and every budget's status, for the dashboard."""
        names = sorted(self.directory.names)
        return {
            "clients": [
                {
                    "name": n,
                    **{k: getattr(self.directory.settings(n), k) for k in ("rpm", "tpm", "concurrency")},
                }
                for n in names
            ],
            "tracked_client_ids": len(self.limiter),
            "budgets": [self.budgets.status(b) for b in self.budgets.all_budgets()],
        }
