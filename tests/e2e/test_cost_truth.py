"""Cost truth end to end: every event the gateway records costs what the provider would bill for
the usage the upstream actually reported, within 0.5 %.

The upstream is the cache-faithful fake (``simulator.cached_script.CachedScript``: Anthropic
breakpoints, 5-minute / 1-hour lifetimes, look-back, per-model caches; OpenAI automatic prefix
caching) on a manual clock, so idle gaps and expiries happen without sleeping. The expected cost
is the tests' own ``tests.costs.reference`` function (written from COSTS.md, never the product's
price book) applied to the usage the fake logged for that call, with the betas that call carried.

Sessions, built from the real client captures in ``tests/data/clients``:
(a) Claude Code on Sonnet 4.5 with 1-hour markers on its system blocks and message breakpoint,
    the 1M-context beta and a turn past 200k total input, a title call, a subagent (5-minute
    markers) and idle gaps past 5 minutes and past 1 hour;
(b) Codex on gpt-5.5 with a turn past 272k input and an idle gap;
(c) Anthropic Messages translated to a Chat provider (Groq ``openai/gpt-oss-120b``).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackbilt_gateway.daemon.simulator.cache_model import ManualClock
from stackbilt_gateway.daemon.simulator.cached_script import LONG_CONTEXT_BETA, CachedScript, Served
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from tests.costs.reference import buckets_of, reference_cost
from tests.fakes.gateway import GATEWAY_KEY, GatewayThread

pytestmark = pytest.mark.e2e

CLIENTS = Path(__file__).resolve().parent.parent / "data" / "clients"
TOLERANCE = 0.005
SONNET = "claude-sonnet-4-5"
# Request headers a capture carries that belong to its own connection or credentials.
_DROP = {"host", "content-length", "connection", "accept-encoding", "x-api-key", "authorization"}
_ANTHROPIC_AUTH = {"x-api-key": GATEWAY_KEY}
_OPENAI_AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}


@dataclass
class Rig:
    gw: GatewayThread
    fake: FakeUpstream
    script: CachedScript
    clock: ManualClock


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = ManualClock()
    script = CachedScript(clock=clock, reasoning_tokens=900)
    fake = FakeUpstream(script=script, record=False).start()
    env = {
        "STACKBILT_ANTHROPIC_BASE_URL": fake.base_url("anthropic"),
        "STACKBILT_OPENAI_BASE_URL": fake.base_url("openai"),
        "STACKBILT_GROQ_BASE_URL": fake.base_url("groq"),
        "ANTHROPIC_API_KEY": "sk-ant-fake-upstream-key",
        "OPENAI_API_KEY": "sk-openai-fake-upstream-key",
        "GROQ_API_KEY": "gsk-fake-upstream-key",
    }
    gw = GatewayThread(env=env).start()
    try:
        yield Rig(gw, fake, script, clock)
    finally:
        gw.stop()
        fake.stop()


# -- captures ---------------------------------------------------------------------------------------


def capture(client: str, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    request = json.loads((CLIENTS / client / name).read_text())["request"]
    headers = {k.lower(): v for k, v in request["headers"].items() if k.lower() not in _DROP}
    return headers, copy.deepcopy(request["body"])


def filler(label: str, tokens: int) -> str:
    """About ``tokens`` tokens (4 characters each) of distinct, deterministic text."""
    line = f"{label}: the quick brown fox jumps over the lazy dog 0123456789\n"
    return (line * (tokens * 4 // len(line) + 1))[: tokens * 4]


def _marks(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = [b for b in body.get("system") or [] if isinstance(b, dict) and "cache_control" in b]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and "cache_control" in b]
    return found


def one_hour(body: dict[str, Any]) -> dict[str, Any]:
    """Claude Code with 1-hour caching: ``ttl: "1h"`` on its system blocks and message breakpoint."""
    for block in _marks(body):
        block["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    return body


def add_tool_round(body: dict[str, Any], n: int, result: str, ttl: str | None) -> dict[str, Any]:
    """Append an assistant tool call and its result, moving the message breakpoint onto the result."""
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if isinstance(block, dict):
                block.pop("cache_control", None)
    tool_id = f"toolu_cost{n:04d}"
    body["messages"].append(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": f"Reading part {n}."},
                {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": "Read",
                    "input": {"file_path": f"src/part{n}.py"},
                },
            ],
        }
    )
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    body["messages"].append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_id, "content": result, "cache_control": control}
            ],
        }
    )
    return body


def messages(rig: Rig, headers: dict[str, str], body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{rig.gw.url}/v1/messages?beta=true",
        content=json.dumps(body).encode(),
        headers={**headers, **_ANTHROPIC_AUTH, "content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:500]
    assert "message_stop" in r.text or not body.get("stream")


def responses(rig: Rig, headers: dict[str, str], body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{rig.gw.url}/v1/responses",
        content=json.dumps(body).encode(),
        headers={**headers, **_OPENAI_AUTH, "content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:500]
    assert "response.completed" in r.text


# -- comparing ----------------------------------------------------------------------------------------


def recorded_events(rig: Rig, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        got = httpx.get(
            f"{rig.gw.url}/events/recent", params={"limit": 500}, headers=_ANTHROPIC_AUTH, timeout=5
        )
        rows = got.json()["events"]
        if len(rows) >= n:
            break
        time.sleep(0.05)
    assert len(rows) == n, f"expected {n} events, found {len(rows)}"
    return sorted(rows, key=lambda e: (e["ts"], e["id"]))


def check_costs(rig: Rig, label: str) -> list[tuple[Served, dict[str, Any], float]]:
    """Pair every event with the call the fake served for it; fail listing every cost that is off."""
    served = sorted(rig.script.log(), key=lambda s: s.number)
    events = recorded_events(rig, len(served))
    pairs: list[tuple[Served, dict[str, Any], float]] = []
    problems: list[str] = []
    for call, event in zip(served, events, strict=True):
        assert event["status"] == "ok" and event["selected_model"] == call.model, (event, call)
        assert event["selected_provider"] == call.provider
        expected = reference_cost(
            call.provider or "", call.model, buckets_of(call.wire, call.usage), call.betas
        )
        pairs.append((call, event, expected))
        cost = event["cost_usd"]
        if cost is None or abs(cost - expected) > TOLERANCE * expected:
            off = "unpriced" if cost is None else f"{(cost - expected) / expected:+.1%}"
            b = buckets_of(call.wire, call.usage)
            problems.append(
                f"#{call.number} {call.provider}/{call.model} in={b.total_input} "
                f"(uncached {b.uncached}, w5m {b.write_5m}, w1h {b.write_1h}, read {b.read}) out={b.output} "
                f"1M-beta={LONG_CONTEXT_BETA in call.betas}: "
                f"recorded {cost} vs reference {expected:.6f} ({off})"
            )
    if problems:
        recorded = sum(e["cost_usd"] or 0.0 for _, e, _ in pairs)
        truth = sum(x for _, _, x in pairs)
        gap = (recorded - truth) / truth
        summary = f"{label}: session recorded ${recorded:.4f} vs reference ${truth:.4f} ({gap:+.1%})"
        pytest.fail("\n".join([summary, *problems]))
    return pairs


# -- (a) Claude Code ----------------------------------------------------------------------------------


def test_claude_code_session_costs_what_anthropic_bills(rig: Rig) -> None:
    headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
    headers["anthropic-beta"] += f",{LONG_CONTEXT_BETA}"
    _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
    sub_headers, sub = capture("claude-code", "messages_subagent_first_turn.json")
    sub_headers["anthropic-beta"] += f",{LONG_CONTEXT_BETA}"
    title_headers, title = capture("claude-code", "messages_interactive_title_generation.json")
    for body in (turn1, turn2, sub):
        body["model"] = SONNET
    title["model"] = "claude-haiku-4-5"

    messages(rig, headers, one_hour(turn1))  # cold: 1-hour writes
    rig.clock.advance(20)
    main = one_hour(turn2)
    messages(rig, headers, main)  # reads turn 1, writes the tool round
    rig.clock.advance(1)
    messages(rig, title_headers, title)  # a fresh, unmarked context on another model
    rig.clock.advance(2)
    messages(rig, sub_headers, sub)  # the subagent: fresh context, 5-minute markers
    rig.clock.advance(30)
    sub = add_tool_round(sub, 1, filler("sub-1", 3_000), None)
    messages(rig, sub_headers, sub)
    rig.clock.advance(30)
    main = add_tool_round(main, 2, filler("main-2", 40_000), "1h")
    messages(rig, headers, main)
    rig.clock.advance(6 * 60)  # idle past 5 minutes: the subagent's cache is gone, the main one lives
    sub = add_tool_round(sub, 3, filler("sub-3", 500), None)
    messages(rig, sub_headers, sub)
    main = add_tool_round(main, 4, filler("main-4", 170_000), "1h")  # past 200k with the 1M beta
    messages(rig, headers, main)
    rig.clock.advance(10)
    main = add_tool_round(main, 5, filler("main-5", 800), "1h")
    messages(rig, headers, main)
    rig.clock.advance(61 * 60)  # idle past an hour: everything is re-written, still past 200k
    main = add_tool_round(main, 6, filler("main-6", 300), "1h")
    messages(rig, headers, main)

    log = rig.script.log()
    usage = [buckets_of(s.wire, s.usage) for s in log]
    # The session exercised what it claims to (these hold whatever the gateway does).
    assert usage[0].write_1h > 10_000 and usage[0].write_5m == 0
    assert usage[1].read == usage[0].write_1h and usage[1].write_1h > 0
    assert usage[2].write_5m + usage[2].write_1h + usage[2].read == 0, "the title call caches nothing"
    assert usage[3].write_5m > 5_000 and usage[3].read == 0, "the subagent starts cold"
    assert usage[6].read == 0 and usage[6].write_5m > 5_000, "the subagent re-writes after 6 idle minutes"
    assert usage[7].read > 40_000 and usage[7].total_input > 200_000 and usage[7].write_1h > 170_000
    assert usage[8].total_input > 200_000 and usage[8].read > 200_000
    assert usage[9].read == 0 and usage[9].write_1h > 200_000, "after an hour everything is re-written"
    check_costs(rig, "Claude Code session")


# -- (b) Codex ------------------------------------------------------------------------------------------


def function_round(body: dict[str, Any], n: int, output: str) -> dict[str, Any]:
    call_id = f"call_cost{n:04d}"
    body["input"].append(
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": json.dumps({"cmd": f"cat part{n}"}),
            "call_id": call_id,
        }
    )
    body["input"].append({"type": "function_call_output", "call_id": call_id, "output": output})
    return body


def test_codex_session_costs_what_openai_bills(rig: Rig) -> None:
    headers, turn1 = capture("codex", "responses_tool_turn1_gpt-5.5.json")
    _, turn2 = capture("codex", "responses_function_call_output_turn2_gpt-5.5.json")
    responses(rig, headers, turn1)
    rig.clock.advance(15)
    responses(rig, headers, turn2)  # the automatic cache serves turn 1's prefix
    rig.clock.advance(15)
    body = function_round(turn2, 3, filler("out-3", 280_000))  # past 272k
    responses(rig, headers, body)
    rig.clock.advance(20)
    body = function_round(body, 4, filler("out-4", 2_000))
    responses(rig, headers, body)
    rig.clock.advance(10 * 60)  # idle: the prefix expired
    body = function_round(body, 5, filler("out-5", 100))
    responses(rig, headers, body)

    usage = [buckets_of(s.wire, s.usage) for s in rig.script.log()]
    assert usage[0].read == 0 and usage[1].read >= 1024
    assert usage[2].total_input > 272_000 and usage[3].total_input > 272_000 and usage[3].read > 272_000
    assert usage[4].read == 0 and usage[4].total_input > 272_000
    check_costs(rig, "Codex session")
    # each event records how many input items its request had (a restart rebuilds who answered
    # at which point of the conversation from it; compose.restore)
    items = [e["signals"]["history_items"] for e in recorded_events(rig, 5)]
    assert items[0] == len(turn1["input"]) and items[-1] == len(body["input"]), items
    assert items == sorted(set(items)), items  # each round adds items


# -- (c) translated to a Chat provider -------------------------------------------------------------


def test_translated_chat_route_costs_what_the_chat_provider_bills(rig: Rig) -> None:
    headers, turn1 = capture("claude-code", "messages_tool_turn1.json")
    _, turn2 = capture("claude-code", "messages_tool_result_turn2.json")
    for body in (turn1, turn2):
        body["model"] = "groq/openai/gpt-oss-120b"
    messages(rig, headers, turn1)
    rig.clock.advance(20)
    messages(rig, headers, turn2)
    rig.clock.advance(20)
    turn3 = add_tool_round(turn2, 3, filler("chat-3", 5_000), None)
    messages(rig, headers, turn3)

    log = rig.script.log()
    assert {s.wire for s in log} == {"chat"} and {s.provider for s in log} == {"groq"}
    usage = [buckets_of(s.wire, s.usage) for s in log]
    assert usage[0].read == 0 and usage[1].read >= 1024 and usage[2].read >= usage[1].read
    check_costs(rig, "translated Chat route")
