"""The daemon's garbage-collector settings, applied once the app is built.

Nearly all of a request's garbage is freed by reference counting; the cyclic collector only
has to find cycles (exception tracebacks and the like). With CPython's default thresholds
(700, 10, 10) it instead runs every few requests and walks every live container, and with 32
agent turns in flight the live set is large: tens of thousands of parsed JSON containers and
IR parts. So: everything alive after start-up (modules, the app, routing tables) is frozen out
of the collector's view, and the young generation collects after ``GEN0`` net new containers.
The young count grows by allocations minus deallocations, so requests in flight (about 30 000
containers for 32 concurrent 200 KB turns) never reach 100 000 and only accumulating garbage
triggers a collection. Measured by ``bench`` at c=32 on 200 KB turns: 20 000 still ran ~45
collections of ~6 ms each per 2 000 requests (3 % of the daemon's CPU); 100 000 ran none.
"""

from __future__ import annotations

import gc

GEN0 = 100_000
GEN1 = 50
GEN2 = 100


def tune() -> None:
    """Collect once, freeze what survives start-up, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0, GEN1, GEN2)
