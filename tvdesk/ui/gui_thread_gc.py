"""Python's cyclic garbage collection on the GUI thread only, and never over what start-up made.

Left automatic, the collector runs in whichever thread happens to allocate, a pool thread
included; when it frees a cycle holding a Qt object there, the object's destructor takes a Qt
lock and then waits for the interpreter lock, while the GUI thread holds that and waits for the
Qt lock: both stop for good (seen once in the test suite, a window's menu freed by a pool
thread's query). pyqtgraph's `GarbageCollector` turns automatic collection off and collects on
a timer of the GUI thread instead.

A full (oldest-generation) collection walks every object the process holds: with the GUI's
modules loaded that is about 130 000 objects and 50-90 ms (measured on a 2-core Xeon), a stall
of the event loop each time one runs. What exists once the window plays (modules, widgets) lives
as long as the app, so it is frozen out of the collector (`gc.freeze`, as Python's documentation
suggests for objects made at start-up); collections then walk only what was made since.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 1.0


def freeze_what_exists() -> None:
    """Collect once, then leave everything alive now out of every later collection."""
    gc.collect()
    gc.freeze()


class GuiThreadGarbageCollection:
    """From its creation to `stop`, cycles are collected on the GUI thread only, and what was
    alive at its creation is never walked again."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        freeze_what_exists()
        self._collector = GarbageCollector(interval=interval_s)  # disables automatic collection

    def stop(self) -> None:
        """Automatic collection back on, after one full collection here of everything."""
        self._collector.timer.stop()
        gc.unfreeze()
        gc.collect()
        gc.enable()
