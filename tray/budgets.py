"""Budget notifications for the tray: ``warn`` budgets at or past their limit, once per period.

``budgets_of`` reads the ``budgets`` list of the daemon's ``GET /governance`` answer (each
budget's scope, key, period, limit, action, spend and ``resets_at``), ignoring anything
malformed. ``BudgetNotices.due`` returns the notification texts to show now: one per ``warn``
budget whose spend reached its limit, the first time it is seen so in a period (a period is
told by its ``resets_at``: the next day or month notifies again). Memory is bounded by the
budgets the daemon reports (the config). Pure of GUI and HTTP: the controller polls and notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..daemon.control.api_client import ApiError, DaemonApi, NotAvailable

# A budget's identity across polls: (scope, key, period).
BudgetId = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class BudgetView:
    scope: str
    key: str
    period: str
    limit_usd: float
    spent_usd: float
    action: str
    resets_at: float

    @property
    def ident(self) -> BudgetId:
        return (self.scope, self.key, self.period)

    @property
    def label(self) -> str:
        where = "the total" if self.scope == "total" else f"{self.scope} {self.key!r}"
        return f"The {self.period} budget of {where}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def budgets_of(governance: object) -> list[BudgetView]:
    """The well-formed budgets of a ``/governance`` answer (anything else is skipped)."""
    items = governance.get("budgets") if isinstance(governance, dict) else None
    out: list[BudgetView] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        texts = [item.get(name) for name in ("scope", "key", "period", "action")]
        numbers = [_number(item.get(name)) for name in ("limit_usd", "spent_usd", "resets_at")]
        if not all(isinstance(t, str) for t in texts) or any(n is None for n in numbers):
            continue
        scope, key, period, action = (str(t) for t in texts)
        limit, spent, resets = (float(n or 0.0) for n in numbers)
        out.append(BudgetView(scope, key, period, limit, spent, action, resets))
    return out


def _when(ts: float) -> str:
    moment = datetime.fromtimestamp(ts)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def message(budget: BudgetView) -> str:
    return (
        f"{budget.label} (${budget.limit_usd:,.2f}) is used up: ${budget.spent_usd:,.2f} spent. "
        f"Requests are still served; it resets at {_when(budget.resets_at)}."
    )


class BudgetNotices:
    """Which warn budgets were already notified in their current period."""

    def __init__(self) -> None:
        self._told: dict[BudgetId, float] = {}  # budget -> resets_at of the period notified

    def due(self, budgets: list[BudgetView]) -> list[str]:
        """The notifications to show for this poll (each budget at most once per period)."""
        present = {b.ident for b in budgets}
        for ident in [i for i in self._told if i not in present]:  # removed from the config
            del self._told[ident]
        out: list[str] = []
        for budget in budgets:
            if budget.action != "warn" or budget.spent_usd < budget.limit_usd:
                continue
            if self._told.get(budget.ident) == budget.resets_at:
                continue
            self._told[budget.ident] = budget.resets_at
            out.append(message(budget))
        return out


def fetch(api: DaemonApi) -> list[BudgetView] | None:
    """``GET /governance``'s budgets; None when the daemon has no such endpoint or fails."""
    try:
        return budgets_of(api.get("/governance"))
    except (ApiError, NotAvailable):
        return None
