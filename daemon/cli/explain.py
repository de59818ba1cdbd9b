"""``stackbilt-gw explain EVENT_ID`` / ``stackbilt-gw explain -``: why routing did what it did.

With an event id, asks the running daemon for that recorded event's routing story
(``GET /explain/<id>``); with ``-``, reads a request from stdin — a body of any client protocol
(detected, or ``--protocol``), or ``{"protocol", "body", "headers"}`` — and asks what routing would
decide for it now, as a dry run (``POST /explain``). Prints the class and rule, the main signals,
the task and fresh-context verdicts, each candidate with its reason and expected task cost, the
cache state and the plan's reasons (``--json`` for all of it). Owns the arguments and the wording.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..control.api_client import ApiError, DaemonApi, NotAvailable
from ..control.gatewaykey import read_gateway_key
from ..control.lifecycle import find_daemon
from .common import Context, Subparsers, fail

PROTOCOLS = ("anthropic", "chat", "responses")
_SIGNALS = ("client", "est_tokens", "tool_count", "carries_tools", "has_tool_result", "max_tokens", "effort")


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser(
        "explain", help="why routing sent a request where it did (an event id, or - for stdin)"
    )
    p.add_argument(
        "target", metavar="EVENT_ID|-", help="a recorded event's id, or - to read a request on stdin"
    )
    p.add_argument(
        "--protocol", choices=PROTOCOLS, help="the protocol of a request on stdin (default: detected)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_explain)


def detect_protocol(body: dict[str, Any]) -> str:
    """Responses bodies have ``input``; Anthropic bodies a top-level ``system`` or ``max_tokens``
    with content blocks; anything else with ``messages`` is Chat Completions."""
    if "input" in body:
        return "responses"
    if "system" in body or "anthropic_version" in body or "thinking" in body:
        return "anthropic"
    messages = body.get("messages")
    if isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") in ("system", "developer", "tool") for m in messages
    ):
        return "chat"
    return "anthropic" if "max_tokens" in body and "max_completion_tokens" not in body else "chat"


def stdin_payload(text: str, protocol: str | None) -> dict[str, Any]:
    """The ``POST /explain`` payload from what was read on stdin. Raises ValueError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"stdin is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("stdin must hold a JSON object: a request body, or {protocol, body, headers}")
    if isinstance(data.get("body"), dict) and ("protocol" in data or "headers" in data):
        payload = {"protocol": protocol or data.get("protocol"), "body": data["body"]}
        payload["headers"] = data.get("headers") or {}
        if payload["protocol"] is None:
            payload["protocol"] = detect_protocol(data["body"])
        return payload
    return {"protocol": protocol or detect_protocol(data), "body": data, "headers": {}}


def _money(value: object) -> str:
    return f"${value:.4f}" if isinstance(value, int | float) else "-"


def render(story: dict[str, Any]) -> str:
    """A recorded event's or a dry run's routing story as text."""
    out: list[str] = []
    if story.get("id"):
        out.append(f"event {story['id']} ({story.get('mode')} mode, {story.get('status')})")
        served = f"{story.get('selected_provider')}/{story.get('selected_model')}"
        requested = f"{story.get('requested_provider')}/{story.get('requested_model')}"
        would = f"{story.get('would_provider')}/{story.get('would_model')}"
        out.append(f"requested {requested}; served {served}; live routing: {would}")
        out.append(f"cost {_money(story.get('cost_usd'))}, savings {_money(story.get('savings_usd'))}")
        if story.get("task_id"):
            out.append(f"task {story['task_id']} (decision {story.get('decision_id')})")
    else:
        out.append(f"dry run ({story.get('mode')} mode): requested {story.get('requested')}")
        out.append(
            f"would serve {story.get('would_serve')}; tried in order: {', '.join(story.get('serve', []))}"
        )
    signals = story.get("signals") or {}
    rule = story.get("rule") or signals.get("rule")
    out.append(f"class {story.get('route_class')} (rule {rule}, confidence {story.get('confidence')})")
    shown = {k: signals[k] for k in _SIGNALS if k in signals}
    if shown:
        out.append("signals: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    task = story.get("task")
    if isinstance(task, dict):
        verdict = task.get("task")
        lane = task.get("fresh_context")
        out.append(f"task: {verdict}" + (f"; fresh context: {lane}" if lane else ""))
        if task.get("lane"):
            out.append(f"  lane target: {task['lane']}")
        if task.get("degrade"):
            out.append(f"  {task['degrade']}")
        cache = task.get("cache")
        if isinstance(cache, dict):
            for model, state in cache.items():
                out.append(f"  cache of {model}: {state}")
        expected = task.get("expected_task")
        if isinstance(expected, dict):
            requests, tokens = expected.get("requests"), expected.get("prompt_tokens")
            out.append(f"  expected task: {requests} requests from {tokens} tokens")
        for cand in task.get("candidates") or []:
            if isinstance(cand, dict):
                mark = "taken" if cand.get("taken") else "not taken"
                out.append(f"  candidate {cand.get('target')}: {mark}: {cand.get('why')}")
    reasons = story.get("plan_reasons") or []
    if reasons:
        out.append("plan:")
        out += [f"  {reason}" for reason in reasons]
    return "\n".join(out)


def cmd_explain(args: argparse.Namespace, ctx: Context) -> int:
    payload = None
    if args.target == "-":
        try:
            payload = stdin_payload(sys.stdin.read(), args.protocol)
        except ValueError as exc:
            return fail(str(exc), 2)
    info = find_daemon(ctx.paths)
    if info is None:
        return fail("the gateway is not running; start it with `stackbilt-gw start`")
    found = read_gateway_key(ctx.paths, ctx.env)
    api = DaemonApi(info.host, info.port, found[0] if found else "", timeout=30.0)
    try:
        story = api.post("/explain", payload) if payload is not None else api.get(f"/explain/{args.target}")
    except NotAvailable:
        if payload is not None:
            return fail("this gateway has no explain; restart it after upgrading")
        return fail(f"no recorded event {args.target} (see `stackbilt-gw stats` or the dashboard's events)")
    except ApiError as exc:
        return fail(str(exc))
    print(json.dumps(story, indent=2) if args.json else render(story))
    return 0
