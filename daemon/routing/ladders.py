"""Tier ladders: for a requested model, its cheaper tiers of the same vendor.

Data, not code: shipped families in ``data/ladders.json`` (tiers from the most capable down, each
tier a list of ``provider/model`` keys whose first entry is the one routed to), and the config's
``ladders`` section, which replaces or adds whole families by name (validated here, errors naming
the key path). A route table entry ``"cheaper"`` means one tier below the requested model,
``"cheapest"`` the last tier (``resolve_step``). A model on no ladder has no cheaper tier.

Does not decide whether a step pays (``costs.switching``) or is valid for a request
(``policy``). Reading the shipped file is the only I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

# Route-table tokens that name a ladder step instead of a model.
CHEAPER = "cheaper"
CHEAPEST = "cheapest"
STEPS = (CHEAPER, CHEAPEST)

Tiers = tuple[tuple[str, ...], ...]


class LadderError(ValueError):
    """A ladder is malformed; ``path`` is the dotted key path (``ladders.<family>[i][j]``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f'"{path}": {message}')
        self.path = path
        self.message = message


def validate_ladder(name: str, raw: object, *, prefix: str = "ladders") -> Tiers:
    """One family: a list of at least two tiers, each a non-empty list of "provider/model"."""
    path = f"{prefix}.{name}"
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 2:
        raise LadderError(path, 'expected a list of at least two tiers, e.g. [["a/big"], ["a/small"]]')
    seen: set[str] = set()
    tiers: list[tuple[str, ...]] = []
    for i, tier in enumerate(raw):
        if not isinstance(tier, Sequence) or isinstance(tier, str) or not tier:
            raise LadderError(f"{path}[{i}]", 'expected a non-empty list of "provider/model" keys')
        keys: list[str] = []
        for j, key in enumerate(tier):
            provider, sep, model = key.partition("/") if isinstance(key, str) else ("", "", "")
            if not sep or not provider or not model:
                raise LadderError(f"{path}[{i}][{j}]", 'expected "provider/model"')
            if key in seen:
                raise LadderError(f"{path}[{i}][{j}]", f"{key} is on this ladder twice")
            seen.add(key)
            keys.append(key)
        tiers.append(tuple(keys))
    return tuple(tiers)


@cache
def _shipped() -> dict[str, Tiers]:
    text = resources.files("stackbilt_gateway.daemon.data").joinpath("ladders.json").read_text("utf-8")
    raw = json.loads(text)["ladders"]
    return {name: validate_ladder(name, tiers, prefix="ladders.json") for name, tiers in raw.items()}


@dataclass(frozen=True, slots=True)
class Ladders:
    families: Mapping[str, Tiers] = field(default_factory=dict)
    # "provider/model" -> (family, tier index); built once.
    _index: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, families: Mapping[str, Tiers]) -> Ladders:
        index: dict[str, tuple[str, int]] = {}
        for name, tiers in families.items():
            for i, tier in enumerate(tiers):
                for key in tier:
                    index.setdefault(key, (name, i))
        return cls(dict(families), index)

    def place(self, key: str) -> tuple[str, int] | None:
        """(family, tier) of a model, matching a dated id by its prefix ("…-4-5-20251001")."""
        found = self._index.get(key)
        if found is not None:
            return found
        for known, where in self._index.items():
            if key.startswith(known + "-"):
                return where
        return None

    def step(self, key: str, step: str) -> str | None:
        """The model ``step`` ("cheaper"/"cheapest") below ``key``; None on no ladder or at the bottom."""
        where = self.place(key)
        if where is None:
            return None
        family, tier = where
        tiers = self.families[family]
        target = tier + 1 if step == CHEAPER else len(tiers) - 1
        if target <= tier or target >= len(tiers):
            return None
        return tiers[target][0]


def load_ladders(overrides: Mapping[str, object] | None = None) -> Ladders:
    """The shipped families with the config's ``ladders`` laid over them (whole families)."""
    families = dict(_shipped())
    for name, raw in (overrides or {}).items():
        families[name] = validate_ladder(name, raw)
    return Ladders.build(families)
