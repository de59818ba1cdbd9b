"""Policies each refused with an error naming the rule; budgets block, degrade and warn; a
misconfigured limit or budget stops the daemon from starting, naming the file and key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.core.config import (
    BudgetSettings,
    BudgetsSettings,
    ClientSettings,
    Config,
    ConfigError,
    PolicySettings,
)
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.e2e.conftest import wait_events
from tests.governance.conftest import Start, new_client
from tests.governance.test_http import ANTHROPIC_MODEL, chat, messages


def test_policies_each_refuse_with_their_rule(start_gateway: Start, upstream: FakeUpstream) -> None:
    config = Config(
        policies=PolicySettings(
            disabled_aliases=("default-fast",),
            require_client_id=True,
            max_prompt_tokens=200,
            repos={"/work/secret": ("ollama",)},
        ),
        clients={
            "anth": ClientSettings(providers=("anthropic",)),
            "narrow": ClientSettings(models=("gpt-5.5",)),
        },
    )
    gw = start_gateway(config)
    anth, narrow = new_client("anth"), new_client("narrow")
    from tests.fakes.gateway import GATEWAY_KEY

    r = messages(gw.url, GATEWAY_KEY)  # the bare gateway key names no client
    assert r.status_code == 403 and "require_client_id" in r.json()["error"]["message"]
    r = chat(gw.url, anth, model="default-fast")
    assert r.status_code == 403 and "disabled_aliases" in r.json()["error"]["message"]
    r = messages(gw.url, anth, text="word " * 2000)
    assert r.status_code == 400 and "max_prompt_tokens" in r.json()["error"]["message"]
    r = chat(gw.url, anth)  # groq is not in anth's providers
    assert r.status_code == 403 and "clients.anth.providers" in r.json()["error"]["message"]
    r = messages(gw.url, narrow)
    assert r.status_code == 403 and "clients.narrow.models" in r.json()["error"]["message"]
    r = messages(gw.url, anth, **{"x-stackbilt-repo": "/work/secret/app"})
    assert r.status_code == 403 and "policies.repos./work/secret.providers" in r.json()["error"]["message"]
    assert messages(gw.url, anth).status_code == 200
    assert len(upstream.calls("/v1/messages")) == 1
    rules = [e["error_class"] for e in wait_events(gw, 7) if e["status"] == "refused"]
    assert sorted(rules) == sorted(
        [
            "policy.require_client_id",
            "policy.disabled_aliases",
            "policy.max_prompt_tokens",
            "client.providers",
            "client.models",
            "policy.repos",
        ]
    )


def _budget(action: str) -> Config:
    return Config(clients={"team": ClientSettings(budget_daily_usd=0.000001, budget_action=action)})


def test_budget_block_names_the_budget_amount_and_reset(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway(_budget("block"))
    key = new_client("team")
    assert messages(gw.url, key).status_code == 200  # spends more than the budget
    r = messages(gw.url, key)
    assert r.status_code == 402 and r.json()["error"]["type"] == "billing_error"
    text = r.json()["error"]["message"]
    assert "the daily budget of client 'team' ($0.00) is used up" in text and "resets at" in text
    r = chat(gw.url, key)
    assert r.status_code == 402 and r.json()["error"]["code"] == "insufficient_quota"
    assert "retry-after" not in r.headers
    assert len(upstream.calls("/v1/messages")) == 1 and upstream.calls("/chat/completions") == []
    g = httpx.get(f"{gw.url}/governance", headers={"x-api-key": key}).json()
    (status,) = g["budgets"]
    assert status["exceeded"] and status["spent_usd"] > 0 and status["burn_usd_per_hour"] > 0


def test_budget_degrade_sets_the_flag_and_serves(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway(_budget("degrade"))
    key = new_client("team")
    assert messages(gw.url, key).status_code == 200
    assert messages(gw.url, key).status_code == 200
    events = wait_events(gw, 2)
    assert [e["signals"].get("degrade", False) for e in events] == [True, False]


def test_budget_warn_sets_a_response_header(start_gateway: Start, upstream: FakeUpstream) -> None:
    gw = start_gateway(
        Config(budgets=BudgetsSettings(total=BudgetSettings(daily_usd=0.000001, action="warn")))
    )
    key = new_client("team")
    assert "x-stackbilt-budget-warning" not in messages(gw.url, key).headers
    r = messages(gw.url, key)
    assert r.status_code == 200 and "budget.total.daily" in r.headers["x-stackbilt-budget-warning"]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"clients": {"dev": {"rpm": 0}}}, "clients.dev.rpm"),
        ({"clients": {"dev": {"budget_action": "explode"}}}, "clients.dev.budget_action"),
        ({"budgets": {"total": {"daily_usd": -1}}}, "budgets.total.daily_usd"),
        ({"budgets": {"repos": {"/r": {"action": "warn"}}}}, "budgets.repos./r"),
        ({"policies": {"max_prompt_tokens": "big"}}, "policies.max_prompt_tokens"),
        ({"aliases": {"x": "nowhere/model"}}, "aliases.x"),
    ],
)
def test_a_misconfigured_limit_or_budget_names_file_and_key(
    tmp_path: Path, section: dict[str, object], key: str
) -> None:
    (tmp_path / "gateway.config.json").write_text(json.dumps(section))
    with pytest.raises(ConfigError) as info:
        load_config(cwd=tmp_path, env={"STACKBILT_GATEWAY_HOME": str(tmp_path / "home")})
    assert str(info.value).startswith(f'gateway.config.json: "{key}')


def test_a_used_up_degrade_budget_serves_from_the_cheaper_tier_in_live_mode(
    start_gateway: Start, upstream: FakeUpstream
) -> None:
    """Past its degrade budget, a client's (non-tool-loop) requests are served one tier down the
    requested model's ladder, without the cost check; before it, as requested."""
    config = _budget("degrade")
    gw = start_gateway(Config(mode="live", clients=config.clients))
    key = new_client("team")
    assert messages(gw.url, key).status_code == 200
    r = messages(gw.url, key, text="a second ask")
    assert r.status_code == 200
    served = [c.body["model"] for c in upstream.calls("/v1/messages")]
    assert served == [ANTHROPIC_MODEL, "claude-sonnet-5-5"], served
    newest = wait_events(gw, 2)[0]
    assert newest["selected_model"] == "claude-sonnet-5-5" and newest["signals"]["degrade"] is True
    assert newest["signals"]["task"]["degrade"] == "budget used up: anthropic/claude-sonnet-5-5"
