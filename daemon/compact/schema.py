"""The compaction output contract: a JSON schema, a hand-written validator, and output parsing.

Six keys, all required, nothing else: arrays of strings, except ``files_changed`` whose items
may also be ``{"path": str, "change": str}`` objects. ``FACTS_SCHEMA`` is the same contract as
JSON Schema (shown to the model and documented); ``validate_facts`` checks it without a
dependency and reports every problem with its path. Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

FIELDS = (
    "durable_facts",
    "decisions_made",
    "files_changed",
    "open_questions",
    "next_actions",
    "context_to_discard",
)
_STRINGS = {"type": "array", "items": {"type": "string"}}
FACTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CompactedContext",
    "type": "object",
    "additionalProperties": False,
    "required": list(FIELDS),
    "properties": {
        **{name: _STRINGS for name in FIELDS if name != "files_changed"},
        "files_changed": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["path", "change"],
                        "properties": {"path": {"type": "string"}, "change": {"type": "string"}},
                    },
                ]
            },
        },
    },
}
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
MAX_ERRORS = 8


def _file_item(item: object, path: str) -> list[str]:
    if isinstance(item, str):
        return []
    if not isinstance(item, dict):
        return [f"{path}: expected a string or an object with path and change"]
    errors = [f"{path}.{k}: unexpected key" for k in item if k not in ("path", "change")]
    for key in ("path", "change"):
        if not isinstance(item.get(key), str):
            errors.append(f"{path}.{key}: required string")
    if isinstance(item.get("path"), str) and not item["path"].strip():
        errors.append(f"{path}.path: must not be empty")
    return errors


def validate_facts(value: object) -> list[str]:
    """Every way ``value`` breaks the contract (empty when it is valid)."""
    if not isinstance(value, dict):
        return [f"the top level must be a JSON object, not {type(value).__name__}"]
    errors = [f"{k}: unexpected key (allowed: {', '.join(FIELDS)})" for k in value if k not in FIELDS]
    for name in FIELDS:
        items = value.get(name)
        if name not in value:
            errors.append(f"{name}: required key is missing")
        elif not isinstance(items, list):
            errors.append(f"{name}: expected an array")
        else:
            for i, item in enumerate(items):
                where = f"{name}[{i}]"
                if name == "files_changed":
                    errors += _file_item(item, where)
                elif not isinstance(item, str):
                    errors.append(f"{where}: expected a string")
    return errors[:MAX_ERRORS]


def parse_facts(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(facts, None) for valid model output, else (None, what is wrong).

    Tolerates a Markdown code fence and prose around one JSON object; nothing else.
    """
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return None, "the answer contains no JSON object"
    try:
        value = json.loads(body[start : end + 1])
    except ValueError as exc:
        return None, f"the answer is not valid JSON ({exc})"
    errors = validate_facts(value)
    if errors:
        return None, "; ".join(errors)
    return value, None


def empty_facts() -> dict[str, list[Any]]:
    return {name: [] for name in FIELDS}
