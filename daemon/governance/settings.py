"""Validating the config's governance sections into their typed settings.

``clients.<name>.{rpm, tpm, concurrency, budget_daily_usd, budget_monthly_usd, budget_action,
providers, models}``, ``budgets.{total, repos.<path>}.{daily_usd, monthly_usd, action}``,
``policies.{disabled_aliases, require_client_id, max_prompt_tokens, repos.<path>.providers}`` and
``aliases.<alias>: "provider/model"``. Each parser takes one whole section and raises
``SettingError`` naming the exact dotted key; ``config_load`` adds the file. Pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.config import (
    BUDGET_ACTIONS,
    BudgetSettings,
    BudgetsSettings,
    ClientSettings,
    PolicySettings,
)

# A client's name: what `clients add` accepts and what a client id starts with.
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A client id (a name, or a sub-id narrowed from one): also what x-stackbilt-client may carry.
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}")


class SettingError(Exception):
    """``path``: the dotted config key at fault; ``message``: what was expected."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _show(value: object) -> str:
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _object(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise SettingError(path, f"expected an object, got {_show(value)}")
    return value


def _count(path: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingError(path, f"expected a whole number >= 1 (or null for no limit), got {_show(value)}")
    return value


def _usd(path: str, value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SettingError(path, f"expected an amount in USD > 0 (or null for none), got {_show(value)}")
    return float(value)


def _action(path: str, value: object) -> str:
    if value not in BUDGET_ACTIONS:
        raise SettingError(path, f"expected one of {', '.join(BUDGET_ACTIONS)}, got {_show(value)}")
    return str(value)


def _names(path: str, value: object, known: Iterable[str] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingError(path, f"expected a list of names, got {_show(value)}")
    if known is not None:
        allowed = set(known)
        for item in value:
            if item not in allowed:
                raise SettingError(path, f"unknown provider {item!r} (known: {', '.join(sorted(allowed))})")
    return tuple(v.strip() for v in value)


def _unknown(path: str, keys: Iterable[str], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for key in keys:
        if key not in allowed:
            raise SettingError(f"{path}.{key}", f"is not a known setting (known: {', '.join(allowed)})")


_CLIENT_KEYS = (
    "rpm",
    "tpm",
    "concurrency",
    "budget_daily_usd",
    "budget_monthly_usd",
    "budget_action",
    "providers",
    "models",
)


def parse_client(path: str, value: object, providers: Iterable[str]) -> ClientSettings:
    raw = _object(path, value)
    _unknown(path, raw, _CLIENT_KEYS)
    return ClientSettings(
        rpm=_count(f"{path}.rpm", raw.get("rpm")),
        tpm=_count(f"{path}.tpm", raw.get("tpm")),
        concurrency=_count(f"{path}.concurrency", raw.get("concurrency")),
        budget_daily_usd=_usd(f"{path}.budget_daily_usd", raw.get("budget_daily_usd")),
        budget_monthly_usd=_usd(f"{path}.budget_monthly_usd", raw.get("budget_monthly_usd")),
        budget_action=_action(f"{path}.budget_action", raw.get("budget_action", "block")),
        providers=_names(f"{path}.providers", raw["providers"], providers) if "providers" in raw else None,
        models=_names(f"{path}.models", raw["models"]) if "models" in raw else None,
    )


def parse_clients(value: object, providers: Iterable[str]) -> dict[str, ClientSettings]:
    raw = _object("clients", value)
    out: dict[str, ClientSettings] = {}
    known = tuple(providers)
    for name, entry in raw.items():
        if not CLIENT_NAME.fullmatch(name):
            raise SettingError(
                f"clients.{name}",
                "a client name is 1-64 letters, digits, '.', '_' or '-' (first: letter/digit)",
            )
        out[name] = parse_client(f"clients.{name}", entry, known)
    return out


def parse_budget(path: str, value: object) -> BudgetSettings:
    raw = _object(path, value)
    _unknown(path, raw, ("daily_usd", "monthly_usd", "action"))
    budget = BudgetSettings(
        daily_usd=_usd(f"{path}.daily_usd", raw.get("daily_usd")),
        monthly_usd=_usd(f"{path}.monthly_usd", raw.get("monthly_usd")),
        action=_action(f"{path}.action", raw.get("action", "block")),
    )
    if budget.daily_usd is None and budget.monthly_usd is None:
        raise SettingError(path, "a budget needs daily_usd, monthly_usd or both")
    return budget


def parse_budgets(value: object) -> BudgetsSettings:
    raw = _object("budgets", value)
    _unknown("budgets", raw, ("total", "repos"))
    repos = _object("budgets.repos", raw.get("repos", {}))
    return BudgetsSettings(
        total=parse_budget("budgets.total", raw["total"]) if "total" in raw else BudgetSettings(),
        repos={repo: parse_budget(f"budgets.repos.{repo}", entry) for repo, entry in repos.items()},
    )


def parse_policies(value: object, providers: Iterable[str]) -> PolicySettings:
    raw = _object("policies", value)
    _unknown("policies", raw, ("disabled_aliases", "require_client_id", "max_prompt_tokens", "repos"))
    require = raw.get("require_client_id", False)
    if not isinstance(require, bool):
        raise SettingError("policies.require_client_id", f"expected true or false, got {_show(require)}")
    known = tuple(providers)
    repos: dict[str, tuple[str, ...]] = {}
    for repo, entry in _object("policies.repos", raw.get("repos", {})).items():
        rule = _object(f"policies.repos.{repo}", entry)
        _unknown(f"policies.repos.{repo}", rule, ("providers",))
        if "providers" not in rule:
            raise SettingError(f"policies.repos.{repo}.providers", "is required (the providers it may reach)")
        repos[repo] = _names(f"policies.repos.{repo}.providers", rule["providers"], known)
    disabled = raw.get("disabled_aliases", [])
    return PolicySettings(
        disabled_aliases=_names("policies.disabled_aliases", disabled) if disabled != [] else (),
        require_client_id=require,
        max_prompt_tokens=_count("policies.max_prompt_tokens", raw.get("max_prompt_tokens")),
        repos=repos,
    )


def parse_aliases(value: object, providers: Iterable[str]) -> dict[str, str]:
    raw = _object("aliases", value)
    known = tuple(providers)
    out: dict[str, str] = {}
    for alias, target in raw.items():
        provider, sep, model = target.partition("/") if isinstance(target, str) else ("", "", "")
        if not sep or not model or provider not in known:
            raise SettingError(
                f"aliases.{alias}", f'expected "provider/model" with provider one of {", ".join(known)}'
            )
        out[alias] = str(target)
    return out
