"""Per-turn route classification: which kind of work is this request?

Owns the rule table documented in ``docs/routing.md`` (rules are tried in order; the first that
fires wins) and the ``RouteDecision`` it returns. Signals come from the *latest* turn (the
messages after the last assistant message), never from the whole history, so an old "summarize"
does not colour every later turn. Keywords match on word boundaries with regexes compiled once.
Does not pick providers (``policy`` does) and does no I/O. Budget: well under 1 ms for a 200 KB
Claude Code request (measured in ``bench/``).
"""

from __future__ import annotations

import re

from ..core.context import RouteDecision
from ..core.ir import GatewayRequest, TextPart
from ..core.route_classes import ROUTE_CLASSES, RouteClass
from .signals import (
    has_tool_result,
    history_facts,
    last_user_message,
    latest_turn,
    text_of,
    wants_thinking,
)

__all__ = ["DEFAULT_LONG_CONTEXT_TOKENS", "ROUTE_CLASSES", "RouteClass", "RouteDecision", "classify"]

DEFAULT_LONG_CONTEXT_TOKENS = 100_000
# Structured-output requests at most this big with no tools are housekeeping (titles, tags).
HOUSEKEEPING_MAX_TOKENS = 4_000
# Thinking at these efforts (or with at least this budget) asks for deep reasoning.
HIGH_EFFORTS = frozenset({"high", "xhigh", "max"})
HIGH_THINKING_BUDGET = 16_000
# Keyword scanning looks at the head and tail of long user texts only (pasted logs are noise).
_SCAN_HEAD = 3_000
_SCAN_TAIL = 1_000
# Messages of the latest turn looked at (Codex opens a session with several developer messages).
LATEST_TURN_MAX_MESSAGES = 6
SHORT_ASK_CHARS = 400
LONG_ASK_CHARS = 2_000

_I = re.IGNORECASE
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_PLAN_MODE = re.compile(
    r"\bplan mode (?:is )?(?:still )?(?:active|on|enabled)\b|<collaboration_mode>\s*#\s*plan mode", _I
)
_TOPIC_CHECK = re.compile(r"\bnew conversation topic\b|\bisNewTopic\b", _I)

# Keyword classes in priority order: when several match, the more capable class wins. Phrases
# are lowercase and match whole words only (see _keywords); every spelling is listed.
KEYWORDS: tuple[tuple[RouteClass, tuple[str, ...]], ...] = (
    (
        "deep_reasoning",
        (
            "architecture",
            "architectural",
            "trade-off",
            "trade-offs",
            "tradeoff",
            "tradeoffs",
            "root cause",
            "race condition",
            "deadlock",
            "prove",
            "proof",
            "analyze",
            "analyse",
            "investigate",
            "why does",
            "why is",
            "why do",
            "why are",
            "debug",
            "debugging",
        ),
    ),
    (
        "planning",
        (
            "plan",
            "planning",
            "roadmap",
            "design",
            "design doc",
            "break this down",
            "break it down",
            "milestone",
            "milestones",
        ),
    ),
    (
        "code_draft",
        (
            "write a function",
            "write the function",
            "write a class",
            "write a module",
            "write a script",
            "write a test",
            "write tests",
            "implement",
            "scaffold",
            "boilerplate",
            "create a file",
            "create a new file",
            "create a module",
            "create a class",
            "create a function",
            "create an endpoint",
            "create a component",
            "add a test",
            "add tests",
            "add a unit test",
            "add unit tests",
        ),
    ),
    (
        "fast_code",
        (
            "one-liner",
            "oneliner",
            "snippet",
            "regex",
            "quick question",
            "quick fix",
            "quick script",
            "shell command",
            "bash command",
            "jq command",
            "jq filter",
            "sed command",
            "sed expression",
            "awk command",
        ),
    ),
    (
        "cheap_edit",
        (
            "rename",
            "typo",
            "typos",
            "fix the import",
            "fix the imports",
            "sort imports",
            "sort the imports",
            "reformat",
            "re-format",
            "format",
            "formatting",
            "lint",
            "spelling",
            "add a comment",
            "add comments",
            "add a docstring",
            "add docstrings",
            "bump the version",
        ),
    ),
    (
        "summary",
        (
            "summarize",
            "summarise",
            "summary",
            "tl;dr",
            "tldr",
            "recap",
            "commit message",
            "changelog",
            "release notes",
        ),
    ),
)
# Words: letters/digits joined by - ; or ' (so "tl;dr", "trade-off" and "don't" are one word).
_WORD = re.compile(r"[a-z0-9]+(?:[-;'][a-z0-9]+)*")


_Indexed = tuple[RouteClass, frozenset[str], tuple[tuple[str, str], ...]]


def _compile(table: tuple[tuple[RouteClass, tuple[str, ...]], ...]) -> tuple[_Indexed, ...]:
    """Split each class's phrases into single words and (first word, " phrase ") pairs."""
    out: list[_Indexed] = []
    for route_class, phrases in table:
        words = frozenset(p for p in phrases if " " not in p)
        multi = tuple((p.split(" ", 1)[0], f" {p} ") for p in phrases if " " in p)
        out.append((route_class, words, multi))
    return tuple(out)


_KEYWORD_INDEX = _compile(KEYWORDS)


def _user_text(req: GatewayRequest) -> tuple[str, str]:
    """(the user's own words in the latest turn, the whole latest turn's text incl. reminders)."""
    own: list[str] = []
    whole: list[str] = []
    for message in latest_turn(req.messages)[-LATEST_TURN_MAX_MESSAGES:]:
        text = text_of(message)
        if not text:
            continue
        whole.append(text)
        if message.role == "user":
            own.append(_REMINDER.sub(" ", text) if "<system-reminder>" in text else text)
    return "\n".join(own).strip(), "\n".join(whole)


def _plan_mode(text: str) -> bool:
    # Substring pre-checks keep the regex off long turns that cannot match.
    if "plan mode" not in text and "Plan mode" not in text and "Plan Mode" not in text:
        return False
    return _PLAN_MODE.search(text) is not None


def _scan_window(text: str) -> str:
    if len(text) <= _SCAN_HEAD + _SCAN_TAIL:
        return text
    return text[:_SCAN_HEAD] + "\n" + text[-_SCAN_TAIL:]


def _keywords(text: str) -> dict[RouteClass, list[str]]:
    """Whole-word phrase matches per class (case-insensitive) in the head and tail of ``text``."""
    tokens = _WORD.findall(_scan_window(text).lower())
    words = set(tokens)
    joined = f" {' '.join(tokens)} "
    found: dict[RouteClass, list[str]] = {}
    for route_class, singles, multi in _KEYWORD_INDEX:
        hits = sorted(singles & words)
        hits += [phrase.strip() for first, phrase in multi if first in words and phrase in joined]
        if hits:
            found[route_class] = hits[:5]
    return found


def _is_title_request(req: GatewayRequest) -> bool:
    fmt = req.response_format
    if not fmt:
        return False
    schema = fmt.get("schema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(props, dict) and "title" in props


def _high_effort(req: GatewayRequest) -> bool:
    t = req.thinking
    if t is None or not t.enabled:
        return False
    if t.effort is not None and t.effort.lower() in HIGH_EFFORTS:
        return True
    return t.budget_tokens is not None and t.budget_tokens >= HIGH_THINKING_BUDGET


def _keyword_confidence(n_classes: int, chars: int) -> float:
    confidence = 0.6
    if chars <= SHORT_ASK_CHARS:
        confidence += 0.1
    elif chars > LONG_ASK_CHARS:
        confidence -= 0.2
    if n_classes > 1:
        confidence -= 0.15
    return round(max(0.1, min(confidence, 0.95)), 2)


def classify(
    req: GatewayRequest,
    *,
    client: str = "unknown",
    long_context_tokens: int = DEFAULT_LONG_CONTEXT_TOKENS,
) -> RouteDecision:
    """Classify one request; rules in the order of docs/routing.md, first match wins."""
    facts = history_facts(req)
    est = facts.est_tokens
    own_text, turn_text = _user_text(req)
    last_user = last_user_message(req.messages)
    no_tools = not req.tools
    signals: dict[str, object] = {
        "client": client,
        "est_tokens": est,
        "tool_count": len(req.tools),
        "has_tool_result": has_tool_result(last_user),
        "carries_tools": bool(req.tools) or facts.tool_traffic,
        "has_images": facts.images,
        "latest_user_chars": len(own_text),
        "thinking": wants_thinking(req),
        "effort": req.thinking.effort if req.thinking else None,
        "max_tokens": req.max_tokens,
        "is_title_request": no_tools and _is_title_request(req),
        "plan_mode": _plan_mode(turn_text),
    }
    if facts.marks:  # where the prompt cache is read and written (costs.cache_state look-back)
        signals["cache_marks"] = [list(mark) for mark in facts.marks]
        signals["cache_stable_tokens"] = facts.stable_tokens

    def decide(route_class: RouteClass, confidence: float, rule: str) -> RouteDecision:
        return RouteDecision(route_class, confidence, rule, signals)

    if req.max_tokens is not None and req.max_tokens <= 1:
        signals["is_quota_probe"] = True
        return decide("background", 0.95, "quota_probe")
    if no_tools and req.system and est <= HOUSEKEEPING_MAX_TOKENS * 4:
        system_text = "\n".join(t.text for t in req.system if isinstance(t, TextPart))
        if _TOPIC_CHECK.search(system_text):
            signals["is_topic_check"] = True
            return decide("background", 0.9, "topic_check")
    if no_tools and req.response_format is not None and est <= HOUSEKEEPING_MAX_TOKENS:
        return decide(
            "background", 0.9, "title_request" if signals["is_title_request"] else "structured_small"
        )
    if signals["has_tool_result"]:
        return decide("tool_loop", 0.95, "tool_result")
    if est >= long_context_tokens:
        return decide("long_context", 0.9, "long_context")
    if signals["plan_mode"]:
        return decide("planning", 0.9, "plan_mode")
    if _high_effort(req):
        return decide("deep_reasoning", 0.8, "high_effort")
    keywords = _keywords(own_text) if own_text else {}
    signals["keywords"] = {k: v for k, v in keywords.items()}
    if keywords:
        route_class = next(c for c, _ in KEYWORDS if c in keywords)  # priority order
        confidence = _keyword_confidence(len(keywords), len(own_text))
        return decide(route_class, confidence, f"keyword_{route_class}")
    return decide("fallback_safe", 0.3, "default")
