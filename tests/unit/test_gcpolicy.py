"""The daemon's collector settings: start-up objects frozen, rare collections, cycles still freed."""

from __future__ import annotations

import gc
import weakref

from stackbilt_gateway.daemon import gcpolicy


class _Node:
    def __init__(self) -> None:
        self.me: _Node | None = None


def test_tune_freezes_start_up_objects_raises_thresholds_and_still_frees_cycles() -> None:
    before = gc.get_threshold()
    try:
        gcpolicy.tune()
        assert gc.get_threshold() == (gcpolicy.GEN0, gcpolicy.GEN1, gcpolicy.GEN2)
        assert gc.get_freeze_count() > 0
        node = _Node()
        node.me = node  # a cycle: reference counting alone never frees it
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_cyclic_garbage_is_collected_without_an_explicit_collect() -> None:
    before = gc.get_threshold()
    try:
        gcpolicy.tune()
        first = _Node()
        first.me = first
        ref = weakref.ref(first)
        del first
        for _ in range(gcpolicy.GEN0 + 1_000):  # enough garbage cycles to trigger the young collection
            node = _Node()
            node.me = node
        del node
        assert ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
