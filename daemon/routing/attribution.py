"""Who sent a request: client kind, session, repo and branch, from headers the clients and
the launchers send. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..telemetry.events import ClientKind

SESSION_HEADERS = ("x-claude-code-session-id", "session-id", "x-stackbilt-session", "thread-id")


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers}


def client_kind(headers: Mapping[str, str]) -> ClientKind:
    agent = headers.get("user-agent", "").lower()
    if agent.startswith(("claude-cli/", "claude-code/")) or headers.get("x-app") == "cli":
        return "claude-code"
    if "codex" in headers.get("originator", "").lower() or agent.startswith("codex"):
        return "codex"
    if agent:
        return "sdk"
    return "unknown"


def session_id(headers: Mapping[str, str]) -> str | None:
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            return value[:200]
    return None


def repo_and_branch(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    repo = headers.get("x-stackbilt-repo")
    branch = headers.get("x-stackbilt-branch")
    return (repo[:500] if repo else None, branch[:200] if branch else None)
