"""Budgets in USD per client, per repository and in total, by local day and month.

``BudgetBook`` keeps what each budgeted scope spent this day and month (seeded from the telemetry
database at start, then added to as each request is settled at its exact cost), checks a request
against every budget that applies (``over``), and reports each budget's spend, burn rate (USD per
hour over the last hour, else today's average) and forecast: when the daily or monthly budget
runs out at that rate, if before it resets. Only scopes that have a budget are tracked (repos by
the configured paths): memory is bounded by the config. Pure apart from the clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..core.config import Config


@dataclass(frozen=True, slots=True)
class Budget:
    scope: str  # "client" | "repo" | "total"
    key: str  # client name, repository path, or "total"
    period: str  # "daily" | "monthly"
    limit_usd: float
    action: str  # "warn" | "degrade" | "block"

    @property
    def rule(self) -> str:
        return f"budget.{self.scope}.{self.period}"

    @property
    def label(self) -> str:
        where = "total" if self.scope == "total" else f"{self.scope} {self.key!r}"
        return f"the {self.period} budget of {where}"


@dataclass(slots=True)
class _Spend:
    day: str = ""
    day_usd: float = 0.0
    month: str = ""
    month_usd: float = 0.0
    # (unix time, usd) of the last hour's requests, for the burn rate.
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=4096))


def day_key(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(now))


def month_key(now: float) -> str:
    return time.strftime("%Y-%m", time.localtime(now))


def day_start(now: float) -> float:
    local = datetime.fromtimestamp(now).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float) -> float:
    local = datetime.fromtimestamp(now).astimezone()
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def resets_at(period: str, now: float) -> float:
    local = datetime.fromtimestamp(now).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return (local + timedelta(days=1)).astimezone().timestamp()
    nxt = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt.astimezone().timestamp()


class BudgetBook:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._spend: dict[tuple[str, str], _Spend] = {}

    # -- which budgets apply -------------------------------------------------------------------

    def _repo_key(self, repo: str | None) -> str | None:
        if not repo:
            return None
        best = None
        for path in self.config.budgets.repos:
            if (repo == path or repo.startswith(path.rstrip("/") + "/")) and (
                best is None or len(path) > len(best)
            ):
                best = path
        return best

    def budgets_for(self, client: str, repo: str | None) -> list[Budget]:
        out: list[Budget] = []
        settings = self.config.clients.get(client)
        if settings is not None:
            for period, limit in (
                ("daily", settings.budget_daily_usd),
                ("monthly", settings.budget_monthly_usd),
            ):
                if limit is not None:
                    out.append(Budget("client", client, period, limit, settings.budget_action))
        repo_key = self._repo_key(repo)
        if repo_key is not None:
            b = self.config.budgets.repos[repo_key]
            for period, limit in (("daily", b.daily_usd), ("monthly", b.monthly_usd)):
                if limit is not None:
                    out.append(Budget("repo", repo_key, period, limit, b.action))
        total = self.config.budgets.total
        for period, limit in (("daily", total.daily_usd), ("monthly", total.monthly_usd)):
            if limit is not None:
                out.append(Budget("total", "total", period, limit, total.action))
        return out

    def all_budgets(self) -> list[Budget]:
        out: list[Budget] = []
        for name in self.config.clients:
            out += [b for b in self.budgets_for(name, None) if b.scope == "client"]
        for path in self.config.budgets.repos:
            out += [b for b in self.budgets_for(path, path) if b.scope == "repo"]
        return out + [b for b in self.budgets_for("", None) if b.scope == "total"]

    # -- spend ---------------------------------------------------------------------------------

    def _rolled(self, scope: tuple[str, str], now: float) -> _Spend:
        spend = self._spend.setdefault(scope, _Spend())
        day, month = day_key(now), month_key(now)
        if spend.month != month:
            spend.month, spend.month_usd = month, 0.0
        if spend.day != day:
            spend.day, spend.day_usd = day, 0.0
        return spend

    def _scopes(self, client: str, repo: str | None) -> list[tuple[str, str]]:
        scopes = [("total", "total")]
        if client in self.config.clients:
            scopes.append(("client", client))
        repo_key = self._repo_key(repo)
        if repo_key is not None:
            scopes.append(("repo", repo_key))
        return scopes

    def add(self, client: str, repo: str | None, usd: float, when: float | None = None) -> None:
        now = self.clock()
        when = now if when is None else when
        if usd <= 0:
            return
        for scope in self._scopes(client, repo):
            spend = self._rolled(scope, now)
            spend.month_usd += usd
            if when >= day_start(now):
                spend.day_usd += usd
            if when >= now - 3600:
                spend.recent.append((when, usd))

    def spent(self, budget: Budget) -> float:
        spend = self._rolled((budget.scope, budget.key), self.clock())
        return spend.day_usd if budget.period == "daily" else spend.month_usd

    def over(self, client: str, repo: str | None) -> list[tuple[Budget, float]]:
        """Every budget of this request that is used up, with what it spent."""
        found = []
        for budget in self.budgets_for(client, repo):
            spent = self.spent(budget)
            if spent >= budget.limit_usd:
                found.append((budget, spent))
        return found

    def status(self, budget: Budget) -> dict[str, object]:
        """One budget for the dashboard: spend, burn rate, when it resets and when it runs out."""
        now = self.clock()
        spend = self._rolled((budget.scope, budget.key), now)
        spent = spend.day_usd if budget.period == "daily" else spend.month_usd
        hour = sum(usd for ts, usd in spend.recent if ts >= now - 3600)
        elapsed_h = max((now - day_start(now)) / 3600, 1 / 60)
        burn = hour if hour > 0 else spend.day_usd / elapsed_h
        reset = resets_at(budget.period, now)
        runs_out: float | None = None
        if spent >= budget.limit_usd:
            runs_out = now
        elif burn > 0:
            at = now + (budget.limit_usd - spent) / burn * 3600
            runs_out = at if at < reset else None
        return {
            "scope": budget.scope,
            "key": budget.key,
            "period": budget.period,
            "limit_usd": budget.limit_usd,
            "action": budget.action,
            "spent_usd": round(spent, 6),
            "burn_usd_per_hour": round(burn, 6),
            "resets_at": reset,
            "runs_out_at": runs_out,
            "exceeded": spent >= budget.limit_usd,
        }
