"""The counterfactual through the real ``Settle`` → recorder path: the four projections that were
wrong (per-model caches, lifetimes, per-request identity, the move after an idle gap), in shadow
and live mode, priced by hand from the list prices."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackbilt_gateway.daemon.compose.settle import Settle
from stackbilt_gateway.daemon.core.config import Config
from stackbilt_gateway.daemon.core.context import RequestContext, RequestRecord
from stackbilt_gateway.daemon.core.ir import Usage
from stackbilt_gateway.daemon.costs.prices import load_pricebook
from stackbilt_gateway.daemon.pipeline import _cache_identity
from stackbilt_gateway.daemon.routing.runtime import Router
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.recorder import SessionSnapshot, build_event
from stackbilt_gateway.daemon.wires.registry import WIRES

M = 1_000_000
SONNET = ("anthropic", "claude-sonnet-4-5")  # 3 / 15; read 0.30; write 3.75 (5m) / 6 (1h)
HAIKU = ("anthropic", "claude-haiku-4-5")  # 1 / 5; read 0.10; write 1.25 / 2
GPT = ("openai", "gpt-5.5")
MINI = ("openai", "gpt-5.4-mini")
CLIENTS = Path(__file__).resolve().parent.parent / "data" / "clients" / "claude-code"


@dataclass
class Gateway:
    """A router's cache book and the real settle hook, on a hand-moved clock."""

    mode: str
    now: float = 1_000.0
    events: list[GatewayRequestEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.router = Router.from_config(Config())
        self.router.caches.clock = lambda: self.now
        prices = load_pricebook()

        def sink(record: RequestRecord, session: SessionSnapshot | None) -> None:
            self.events.append(build_event(record, prices, session))

        self.settle = Settle(self.router, sink)

    def request(
        self,
        served: tuple[str, str],
        usage: Usage,
        *,
        requested: tuple[str, str],
        would: tuple[str, str],
        identity: str = "main",
    ) -> GatewayRequestEvent:
        ctx = RequestContext(
            mode=self.mode, session="s", requested=requested, would=would, cache_identity=identity
        )
        record = RequestRecord("r", "anthropic", provider=served[0], upstream_model=served[1], context=ctx)
        record.usage.copy_from(usage)
        record.status = 200
        self.settle(record)
        return self.events[-1]


def test_a_cheaper_model_never_reads_the_premium_cache() -> None:
    # gpt-5.5 (5 / 30 / cached 0.50) warm on 30 000 of 32 000 tokens; gpt-5.4-mini (0.75 / 4.5 /
    # cached 0.075) has no cache of this conversation: it pays all 32 000 uncached.
    gw = Gateway("shadow")
    gw.request(GPT, Usage(input_tokens=30_000, output_tokens=100), requested=GPT, would=GPT)
    gw.now += 30
    turn = Usage(input_tokens=2_000, cache_read_tokens=30_000, output_tokens=400)
    event = gw.request(GPT, turn, requested=GPT, would=MINI)
    paid = (2_000 * 5 + 30_000 * 0.5 + 400 * 30) / M
    mini = (32_000 * 0.75 + 400 * 4.5) / M
    assert event.cost_usd == pytest.approx(paid)
    assert event.would_cost_usd == pytest.approx(mini)
    assert event.savings_usd == pytest.approx(paid - mini)


def test_a_detour_within_the_lifetime_costs_the_premium_cache_nothing() -> None:
    for mode in ("shadow", "live"):
        gw = Gateway(mode)
        gw.request(
            SONNET,
            Usage(input_tokens=50, cache_write_tokens=50_000, output_tokens=10),
            requested=SONNET,
            would=SONNET,
        )
        gw.now += 60
        moved = HAIKU if mode == "live" else SONNET
        gw.request(
            moved,
            Usage(input_tokens=5_000, output_tokens=10),
            requested=SONNET,
            would=HAIKU,
            identity="title",
        )
        gw.now += 60  # back on Sonnet within 5 minutes of its last use: its cache is warm
        back = gw.request(
            SONNET,
            Usage(input_tokens=50, cache_read_tokens=50_000, cache_write_tokens=2_000, output_tokens=10),
            requested=SONNET,
            would=SONNET,
        )
        assert back.savings_usd == pytest.approx(0.0), mode


def test_a_detour_past_the_lifetime_pays_the_rewrite_on_the_premium_turn() -> None:
    # Shadow: Sonnet served everything; the plan would have moved turn 2 (same identity) to Haiku.
    gw = Gateway("shadow")
    gw.request(
        SONNET,
        Usage(input_tokens=50, cache_write_tokens=50_000, output_tokens=10),
        requested=SONNET,
        would=SONNET,
    )
    gw.now += 240
    moved = gw.request(
        SONNET,
        Usage(input_tokens=50, cache_read_tokens=50_000, cache_write_tokens=1_000, output_tokens=10),
        requested=SONNET,
        would=HAIKU,
    )
    # Haiku cold: it writes the whole 51 000-token prefix (5-minute writes, as the request's).
    haiku = (50 * 1 + 51_000 * 1.25 + 10 * 5) / M
    assert moved.would_cost_usd == pytest.approx(haiku)
    gw.now += 240  # 8 minutes after Sonnet's last use in the routed world: expired there
    back = gw.request(
        SONNET,
        Usage(input_tokens=50, cache_read_tokens=51_000, cache_write_tokens=500, output_tokens=10),
        requested=SONNET,
        would=SONNET,
    )
    assert back.savings_usd == pytest.approx(-(3.75 - 0.30) * 51_000 / M)


def test_a_title_call_has_its_own_identity_and_saves_its_price_difference() -> None:
    turn = json.loads((CLIENTS / "messages_tool_result_turn2.json").read_text())["request"]["body"]
    title = json.loads((CLIENTS / "messages_interactive_title_generation.json").read_text())["request"][
        "body"
    ]
    sub = json.loads((CLIENTS / "messages_subagent_first_turn.json").read_text())["request"]["body"]
    parse = WIRES["anthropic"].parse_request
    ids = {_cache_identity("s", parse(body)) for body in (turn, title, sub)}
    assert len(ids) == 3
    # Claude Code's per-turn billing line is not part of the identity.
    sub2 = json.loads(json.dumps(sub))
    sub2["system"][0]["text"] = sub2["system"][0]["text"].replace("cc_version=", "cc_version=9.9.9;x=")
    assert _cache_identity("s", parse(sub2)) == _cache_identity("s", parse(sub))
    for mode in ("shadow", "live"):
        gw = Gateway(mode)
        gw.request(
            SONNET,
            Usage(input_tokens=50, cache_write_tokens=60_000, output_tokens=10),
            requested=SONNET,
            would=SONNET,
        )
        served = HAIKU if mode == "live" else SONNET
        event = gw.request(
            served, Usage(input_tokens=900, output_tokens=20), requested=SONNET, would=HAIKU, identity="title"
        )
        assert event.savings_usd == pytest.approx((900 * 3 + 20 * 15 - 900 * 1 - 20 * 5) / M), mode


def test_moving_the_first_turn_after_an_idle_gap_only_postpones_the_rewrite() -> None:
    for mode in ("shadow", "live"):
        gw = Gateway(mode)
        gw.request(
            SONNET,
            Usage(
                input_tokens=50, cache_write_tokens=100_000, cache_write_1h_tokens=100_000, output_tokens=10
            ),
            requested=SONNET,
            would=SONNET,
        )
        gw.now += 2 * 3600  # idle: everything expired
        if mode == "shadow":
            first = gw.request(
                SONNET,
                Usage(
                    input_tokens=50,
                    cache_write_tokens=101_000,
                    cache_write_1h_tokens=101_000,
                    output_tokens=10,
                ),
                requested=SONNET,
                would=HAIKU,
            )
        else:
            first = gw.request(
                HAIKU,
                Usage(
                    input_tokens=50,
                    cache_write_tokens=101_000,
                    cache_write_1h_tokens=101_000,
                    output_tokens=10,
                ),
                requested=SONNET,
                would=HAIKU,
            )
        gw.now += 20
        if mode == "shadow":
            nxt = Usage(
                input_tokens=50,
                cache_read_tokens=101_000,
                cache_write_tokens=500,
                cache_write_1h_tokens=500,
                output_tokens=10,
            )
        else:  # Sonnet's cache expired while the first turn ran on Haiku: it re-writes
            nxt = Usage(
                input_tokens=50, cache_write_tokens=101_500, cache_write_1h_tokens=101_500, output_tokens=10
            )
        second = gw.request(SONNET, nxt, requested=SONNET, would=SONNET)
        move = (
            50 * (3 - 1) + 101_000 * (6 - 2) + 10 * (15 - 5)
        ) / M  # the move itself: both sides write cold
        rewrite = -(6 - 0.30) * 101_000 / M
        assert first.savings_usd == pytest.approx(move), mode
        assert second.savings_usd == pytest.approx(rewrite), mode
        assert move + rewrite < 0
