"""``stackbilt-gw compact FILE``: compact a saved transcript with the running daemon.

FILE is a JSON transcript (an Anthropic Messages body or a bare ``messages`` list, or a
Responses body with ``input``) or a Claude Code session file (``.jsonl``); ``-`` reads stdin.
It is posted to ``POST /v1/context/compact`` and the facts are printed as readable sections
(``--json``: the daemon's whole answer). Redaction happens in the daemon, before any model sees
the transcript.

Owns reading the transcript file, the arguments and the printed sections; compaction itself is
the daemon's, reached through ``control.api_client``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..control.api_client import ApiError, DaemonApi, NotAvailable
from ..control.gatewaykey import read_gateway_key
from ..control.lifecycle import find_daemon
from .common import Context, Subparsers, fail

# Compaction of a long session takes several model calls.
TIMEOUT = 900.0
SECTIONS = (
    ("durable_facts", "Durable facts"),
    ("decisions_made", "Decisions made"),
    ("files_changed", "Files changed"),
    ("open_questions", "Open questions"),
    ("next_actions", "Next actions"),
    ("context_to_discard", "Context to discard"),
)


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("compact", help="compact a saved transcript (JSON or Claude Code .jsonl) into facts")
    p.add_argument("file", help="transcript file (.json or Claude Code .jsonl); - reads stdin")
    p.add_argument("--model", help='"provider/model" or "auto" (default: compaction.model)')
    p.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
    p.set_defaults(func=cmd_compact)


def transcript_payload(text: str, name: str) -> dict[str, Any]:
    """The request body for a transcript file's text (JSONL is sent as-is for the daemon)."""
    if name.endswith(".jsonl"):
        return {"jsonl": text}
    try:
        data = json.loads(text)
    except ValueError:
        return {"jsonl": text}  # several JSON lines: a session file under another name
    if isinstance(data, list):
        return {"messages": data}
    if isinstance(data, dict):
        return data
    raise ValueError("the file holds neither a transcript object nor a list of messages")


def _api(ctx: Context) -> DaemonApi | None:
    info = find_daemon(ctx.paths)
    if info is None:
        return None
    found = read_gateway_key(ctx.paths, ctx.env)
    return DaemonApi(info.host, info.port, found[0] if found else "", timeout=TIMEOUT)


def _item(item: object) -> str:
    if isinstance(item, dict):
        return f"{item.get('path')}: {item.get('change')}"
    return str(item)


def render_facts(answer: dict[str, Any]) -> str:
    usage = answer.get("usage") or {}
    cost = usage.get("cost_usd")
    lines = [
        f"Compacted with {answer.get('model')}: {answer.get('chunks')} chunk(s), {usage.get('calls')} "
        f"call(s), {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
        + (f", ${cost:.4f}" if isinstance(cost, int | float) else "")
        + (f"; {answer['redacted']} entries had secrets masked" if answer.get("redacted") else "")
    ]
    facts = answer.get("facts") or {}
    for key, title in SECTIONS:
        lines += ["", title]
        items = facts.get(key) or []
        lines += [f"  - {_item(i)}" for i in items] or ["  (none)"]
    return "\n".join(lines)


def cmd_compact(args: argparse.Namespace, ctx: Context) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
        payload = transcript_payload(text, args.file)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return fail(f"cannot read the transcript {args.file}: {exc}", 2)
    if args.model:
        payload["model"] = args.model
    api = _api(ctx)
    if api is None:
        return fail("the gateway is not running; start it with `stackbilt-gw start`")
    try:
        answer = api.post("/v1/context/compact", payload)
    except (ApiError, NotAvailable) as exc:
        return fail(f"compaction failed: {exc}")
    print(json.dumps(answer, indent=2) if args.json else render_facts(answer))
    return 0
