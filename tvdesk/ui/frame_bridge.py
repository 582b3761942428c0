"""Carries frame results from the frame loop's worker thread to the GUI thread.

Latest-result-wins: if the GUI is busy, older results are replaced rather than queued, so the
picture never lags behind the stream.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from tvdesk.core.session.frame_loop import FrameResult, LoopOutcome


class FrameBridge(QObject):
    """A frame-loop consumer that notifies the GUI thread.

    Signals:
        result_ready: a new result can be taken with `take()` (emitted at most once per take).
        finished(LoopOutcome): the loop ended, stopped or failed.
    """

    result_ready = Signal()
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self.replaced = 0  # results the GUI never saw because a newer one came first

    def consume(self, result: FrameResult) -> None:
        """Called on the worker thread for every processed frame."""
        with self._lock:
            notify = self._latest is None
            if not notify:
                self.replaced += 1
            self._latest = result
        if notify:
            self.result_ready.emit()

    def take(self) -> FrameResult | None:
        """The newest result (GUI thread); None if it was already taken."""
        with self._lock:
            result, self._latest = self._latest, None
        return result

    def loop_finished(self, outcome: LoopOutcome) -> None:
        self.finished.emit(outcome)
