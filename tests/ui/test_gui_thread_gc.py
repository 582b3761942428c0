"""Garbage collection in the GUI: on the GUI thread's timer only, and never over what lived
before it started (the app's modules and widgets), which a full collection would walk for tens
of milliseconds each time. The suite's session fixture starts it, as the app does."""

from __future__ import annotations

import gc
import threading
import weakref


class _Node:
    pass


def test_automatic_collection_is_off_and_what_lived_before_is_frozen(qapp):
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 10_000  # Qt, pyqtgraph, numpy and our modules at least


def test_a_cycle_made_later_is_freed_on_the_gui_thread(qtbot):
    threads: set[int] = set()

    def note_thread(phase: str, info: dict) -> None:
        threads.add(threading.get_ident())

    node = _Node()
    node.itself = node  # a cycle: only the collector frees it
    freed = weakref.ref(node)
    del node
    gc.callbacks.append(note_thread)
    try:
        allocations = [[] for _ in range(5 * gc.get_threshold()[0])]  # past the first threshold
        qtbot.waitUntil(lambda: freed() is None, timeout=5000)
    finally:
        gc.callbacks.remove(note_thread)
    del allocations
    assert threads == {threading.main_thread().ident}
