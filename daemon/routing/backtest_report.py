"""The backtest's report: per session and route class what was spent, what the tested table
would have spent, and the moves it took or refused (``routing.backtest`` fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Listed moves (taken and refused) per report; the counts are always complete.
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class Move:
    """A request the table moved (``to`` set) or tried to move and the planner refused."""

    event_id: str
    session: str | None
    route_class: str
    rule: str
    requested: str
    to: str | None
    reasons: tuple[str, ...]
    savings_usd: float | None


@dataclass(slots=True)
class Tally:
    """Sums over a set of replayed requests (``savings_usd`` = actual - simulated)."""

    requests: int = 0
    actual_usd: float = 0.0
    simulated_usd: float = 0.0
    moves_taken: int = 0
    moves_refused: int = 0
    unpriced: int = 0
    # Per class: savings of later same-model requests owed to this class's moves (+) or owed by
    # this class's requests to another class's moves (-); zero in the totals.
    charged_back_usd: float = 0.0

    @property
    def savings_usd(self) -> float:
        return self.actual_usd - self.simulated_usd + self.charged_back_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "actual_usd": round(self.actual_usd, 8),
            "simulated_usd": round(self.simulated_usd, 8),
            "savings_usd": round(self.savings_usd, 8),
            "moves_taken": self.moves_taken,
            "moves_refused": self.moves_refused,
            "unpriced": self.unpriced,
            "charged_back_usd": round(self.charged_back_usd, 8),
        }


@dataclass(slots=True)
class Report:
    totals: Tally = field(default_factory=Tally)
    by_session: dict[str, Tally] = field(default_factory=dict)
    by_class: dict[str, Tally] = field(default_factory=dict)
    taken: list[Move] = field(default_factory=list)
    refused: list[Move] = field(default_factory=list)
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        def moves(items: list[Move]) -> list[dict[str, Any]]:
            return [
                {
                    "event_id": m.event_id,
                    "session": m.session,
                    "route_class": m.route_class,
                    "rule": m.rule,
                    "requested": m.requested,
                    "to": m.to,
                    "reasons": list(m.reasons),
                    "savings_usd": None if m.savings_usd is None else round(m.savings_usd, 8),
                }
                for m in items[:MAX_LISTED]
            ]

        return {
            "totals": self.totals.as_dict(),
            "skipped": self.skipped,
            "by_session": {k: v.as_dict() for k, v in sorted(self.by_session.items())},
            "by_class": {k: v.as_dict() for k, v in sorted(self.by_class.items())},
            "moves_taken": moves(self.taken),
            "moves_refused": moves(self.refused),
        }
