"""Small helpers shared by the ``stackbilt-gw`` subcommand modules.

Owns the per-invocation context (environment, paths) and the one-line error printer. Does not
own any command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from ..control.paths import Paths, resolve_paths

PROG = "stackbilt-gw"
# What each subcommand module's ``add_parsers`` receives (a string: not subscriptable at runtime).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


@dataclass(frozen=True, slots=True)
class Context:
    env: Mapping[str, str]
    paths: Paths

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Context:
        return cls(env=env, paths=resolve_paths(dict(env)))


def fail(message: str, code: int = 1) -> int:
    """Print ``stackbilt-gw: message`` on stderr and return ``code``."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return code
