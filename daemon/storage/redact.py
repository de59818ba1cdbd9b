"""Secret redaction for what the gateway keeps: telemetry's stored prompts and error messages,
the compaction transcript, and the response cache's no-secrets rule (text that ``redact``
changes is never cached).

Owns the pattern table: provider keys (``sk-ant-…``, ``sk-…``, ``gsk_…``), bearer tokens, AWS
keys, GitHub / Google tokens, JWTs, private-key blocks and generic ``name=value`` / ``name: value``
assignments whose name ends in a secret word (``api_key``, ``token``, ``password``, …; so
``max_tokens=5`` stays). Replacements keep the shape (``sk-ant-***``) so a reader still sees
what was there. Also replaces, wherever they appear, the secret values the daemon itself holds
(its gateway key and the provider keys it reads: ``remember_secret``), whatever their shape.
Patterns compiled once.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        "-----PRIVATE KEY " + MASK + "-----",
    ),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), "sk-ant-" + MASK),
    (re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{16,}"), "sk-" + MASK),
    (re.compile(r"\bgsk_[A-Za-z0-9]{16,}"), "gsk_" + MASK),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"), "gh_" + MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), "AIza" + MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "AKIA" + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), "jwt:" + MASK),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*"), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)\b([A-Za-z0-9_\-]*(?:api[_\-]?key|secret|token|passw(?:or)?d|pwd|access[_\-]?key|"
            r"private[_\-]?key|auth))"
            r"(\"?'?\s*[:=]\s*\"?'?)(?!\*\*\*|(?:bearer|basic)\s)([^\s\"'&,;]{4,})"
        ),
        r"\1\2" + MASK,
    ),
)


# Secret values held by this process (gateway key, provider keys), replaced wherever they appear.
# Only ever grows by a few entries; a plain set, read without a lock (iteration over a snapshot).
_KNOWN: set[str] = set()
MIN_KNOWN_LENGTH = 8


def remember_secret(value: str | None) -> None:
    """Have ``redact`` replace ``value`` wherever it appears (too-short values are ignored)."""
    if value and len(value.strip()) >= MIN_KNOWN_LENGTH:
        _KNOWN.add(value.strip())


def redact(text: str) -> str:
    """``text`` with every recognised secret replaced."""
    for secret in tuple(_KNOWN):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A log formatter whose every line (message, arguments and traceback) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
