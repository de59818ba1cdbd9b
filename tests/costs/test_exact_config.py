"""Config ``prices`` overrides with 1-hour write prices and tiers, through the real config loader:
a valid file loads into a price book that bills by them, a bad tier is refused naming the file
and the key path. Expected costs are computed by hand from the rates in the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import HOME_ENV, resolve_paths
from stackbilt_gateway.daemon.core.config import ConfigError
from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs import CONTEXT_1M, load_pricebook

M = 1_000_000
ENTRY: dict[str, Any] = {
    "input_per_mtok": 4,
    "output_per_mtok": 20,
    "cache_write_1h_per_mtok": 9,
    "tiers": [{"above_input_tokens": 1_000, "requires": CONTEXT_1M, "input_per_mtok": 8}],
}


def _load(tmp_path: Path, prices: dict[str, Any]) -> Any:
    (tmp_path / "gateway.config.json").write_text(json.dumps({"prices": prices}), "utf-8")
    env = {HOME_ENV: str(tmp_path / "home")}
    return load_config(cwd=tmp_path, env=env, paths=resolve_paths(env))


def test_a_config_with_1h_prices_and_tiers_loads_and_bills_by_them(tmp_path: Path) -> None:
    config = _load(tmp_path, {"anthropic/claude-opus-5-5": ENTRY})
    book = load_pricebook(config.prices)
    u = Usage(input_tokens=500, cache_write_tokens=1_000, cache_write_1h_tokens=600, output_tokens=10)
    # 1 500 input tokens: above 1 000. 5-minute writes (400) default to 1.25 x the base input
    # (5) scaled with the tier's input (x2) = 10; 1-hour writes as given, 9, scaled x2 = 18.
    beta = (500 * 8 + 400 * 10 + 600 * 18 + 10 * 20) / M
    plain = (500 * 4 + 400 * 5 + 600 * 9 + 10 * 20) / M
    assert book.cost("anthropic", "claude-opus-5-5", u, frozenset({CONTEXT_1M})).total == pytest.approx(beta)
    assert book.cost("anthropic", "claude-opus-5-5", u).total == pytest.approx(plain)


_TIER = '"prices.anthropic/x.tiers.0'


@pytest.mark.parametrize(
    ("tier", "message"),
    [
        ({"above_input_tokens": "200k", "input_multiplier": 2}, f'{_TIER}.above_input_tokens": '),
        ({"above_input_tokens": 1, "requires": "context-1m", "input_multiplier": 2},
         f'{_TIER}.requires": is not a known condition'),
        ({"above_input_tokens": 1, "input_multiplyer": 2},
         f'{_TIER}.input_multiplyer": is not a known tier field'),
    ],
)  # fmt: skip
def test_a_bad_tier_in_the_config_names_the_file_and_key_path(
    tmp_path: Path, tier: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, {"anthropic/x": {"input_per_mtok": 1, "output_per_mtok": 1, "tiers": [tier]}})
    assert str(err.value).startswith("gateway.config.json: "), str(err.value)
    assert message in str(err.value)
