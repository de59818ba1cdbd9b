"""The words of the compaction calls: one system prompt, the map and merge tasks, the retry note.

The system prompt is identical for every call of a compaction (so upstream prompt caches can
share it) and carries the JSON schema. Pure.
"""

from __future__ import annotations

import json

from .schema import FACTS_SCHEMA

SYSTEM = (
    "You compact a coding agent's conversation transcript into durable, structured facts so that "
    "a later session can continue the work without the transcript.\n\n"
    "Reply with ONE JSON object and nothing else (no prose, no Markdown fences). It has exactly "
    "these keys, each an array:\n"
    "- durable_facts: facts that stay true and matter later (project layout, conventions, "
    "constraints, environment, the user's preferences).\n"
    "- decisions_made: decisions taken, with the reason in a few words.\n"
    '- files_changed: files created, edited or deleted; each a path string or {"path": "...", '
    '"change": "..."}.\n'
    "- open_questions: questions or problems still unresolved.\n"
    "- next_actions: concrete next steps, in order.\n"
    "- context_to_discard: what the transcript holds that is no longer needed (dead ends, "
    "superseded plans, verbose tool output).\n"
    "Write short, self-contained sentences. Never invent facts. Secrets appear as *** and stay "
    "masked.\n\nJSON schema of the answer:\n" + json.dumps(FACTS_SCHEMA, separators=(",", ":"))
)
MAX_ERROR_CHARS = 600
# Room for the task wording and a retry note, on top of the system prompt.
PROMPT_OVERHEAD_CHARS = len(SYSTEM) + 1_200


def map_prompt(index: int, total: int, chunk: str) -> str:
    return (
        f"TASK: COMPACT part {index} of {total} of the transcript below (oldest first). Each line "
        "starts with its [role]; tool calls and tool results are already summarised.\n\n"
        f"<transcript>\n{chunk}\n</transcript>"
    )


def merge_prompt(parts: list[str]) -> str:
    body = "\n\n".join(f'<facts part="{i}">\n{p}\n</facts>' for i, p in enumerate(parts, 1))
    return (
        f"TASK: MERGE {len(parts)} COMPACTED fact sets, taken from consecutive parts of one "
        "transcript (oldest first), into a single fact set. Remove duplicates; when parts disagree "
        "the later one wins; drop open questions a later part answered.\n\n" + body
    )


def retry_note(error: str) -> str:
    return (
        f"\n\nYour previous answer was rejected: {error[:MAX_ERROR_CHARS]}\n"
        "Reply again with only the JSON object described above."
    )
