"""Python's cyclic garbage collection on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate, a pool thread
included; when it frees a cycle holding a Qt object there, the object's destructor takes a Qt
lock and then waits for the interpreter lock, while the GUI thread holds that and waits for the
Qt lock: both stop for good (seen once in the test suite, a window's menu freed by a pool
thread's query). pyqtgraph's `GarbageCollector` turns automatic collection off and collects on
a timer of the GUI thread instead.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector

INTERVAL_S = 1.0


class GuiThreadGarbageCollection:
    """From its creation to `stop`, cycles are collected on the GUI thread only."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self._collector = GarbageCollector(interval=interval_s)  # disables automatic collection

    def stop(self) -> None:
        """Automatic collection back on, after one full collection here."""
        self._collector.timer.stop()
        gc.collect()
        gc.enable()
