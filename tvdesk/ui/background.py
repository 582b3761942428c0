"""Run a blocking call off the GUI thread and get its result or its error back on the GUI thread.

For the operator's commands that may wait on a disk, a process or a network (approve, activate,
rollback, loading thumbnails): the window never freezes on them, and an error is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

logger = logging.getLogger(__name__)

_running: set[_Delivery] = set()  # deliveries in flight, kept alive until they report


class _Delivery(QObject):
    """Lives on the GUI thread; the pool thread emits, the queued slots run on the GUI thread.

    Signals:
        succeeded(object): the call returned this.
        failed(object): the call raised this exception.
    """

    succeeded = Signal(object)
    failed = Signal(object)


class _Call(QRunnable):
    def __init__(self, function: Callable[[], Any], delivery: _Delivery, what: str) -> None:
        super().__init__()
        self.function, self.delivery, self.what = function, delivery, what

    def run(self) -> None:
        try:
            value = self.function()
        except Exception as exc:
            logger.warning("%s failed: %s", self.what, exc, exc_info=True)
            self.delivery.failed.emit(exc)
        else:
            self.delivery.succeeded.emit(value)


def run_in_background(
    function: Callable[[], Any],
    *,
    what: str,
    done: Callable[[Any], None] | None = None,
    failed: Callable[[Exception], None] | None = None,
) -> None:
    """Call `function()` on the shared thread pool; then `done(value)` or `failed(error)` on the
    GUI thread. `what` names the call in the log ("approving the retraining")."""
    delivery = _Delivery()
    queued = Qt.ConnectionType.QueuedConnection
    delivery.succeeded.connect(lambda value: _finish(delivery, done, value), queued)
    delivery.failed.connect(lambda exc: _finish(delivery, failed, exc), queued)
    _running.add(delivery)
    QThreadPool.globalInstance().start(_Call(function, delivery, what))


def _finish(delivery: _Delivery, callback: Callable[[Any], None] | None, value: Any) -> None:
    _running.discard(delivery)
    delivery.deleteLater()
    if callback is not None:
        callback(value)


def wait_for_background(timeout_ms: int = 10000) -> bool:
    """Wait until every background call has ended (closing the window, tests)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
