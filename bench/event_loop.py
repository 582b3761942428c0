"""How late the GUI thread's event loop runs: a precise timer whose timeouts record their
lateness, for the benchmarks and the responsiveness tests alike."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer


class LatenessProbe(QObject):
    """A precise timer on the GUI thread; records by how much each timeout came late (ms)."""

    def __init__(self, interval_ms: int = 20) -> None:
        super().__init__()
        self.interval_ms = interval_ms
        self.lateness: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timeout)

    def start(self) -> None:
        self.lateness.clear()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_timeout(self) -> None:
        elapsed = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        self.lateness.append(max(0.0, elapsed - self.interval_ms))

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.lateness, q))
