"""The daemon's garbage-collector settings, applied once the app is built.

Request handling allocates many short-lived containers (a 200 KB agent turn parses into tens of
thousands of dicts, lists and IR parts), and with 32 turns in flight CPython's default
thresholds (700, 10, 10) run a full collection every few hundred requests, each walking every
live object: ~9 % of the daemon's CPU in the benchmark's agent scenario. Almost all of that
garbage is freed by reference counting anyway, so collections can be rare: everything alive
after start-up (modules, the app, routing tables) is frozen out of the collector's view, and
the young generation collects after ``GEN0`` allocations instead of 700. Cycles are still
collected, later. Measured by ``bench`` (CPU per request), not asserted in tests.
"""

from __future__ import annotations

import gc

GEN0 = 20_000
GEN1 = 50
GEN2 = 100


def tune() -> None:
    """Collect once, freeze what survives start-up, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0, GEN1, GEN2)
