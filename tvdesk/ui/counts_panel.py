"""The Counts panel: the playing camera's counts per minute, by class and direction, over the last
hours (all its lines and zones, or one), with a marker where the model version that counted
changes, and Export CSV…. Counts are in the store (written by the frame loop's batched writer
once a minute ends), so the panel polls it every 2 s and redraws only when they changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.store import Store
from tvdesk.core.store.counts_csv import write_counts_csv
from tvdesk.core.tracking.minutes import MINUTE_S, CountRow
from tvdesk.ui.chart_scale import TITLE_SIZE
from tvdesk.ui.video_widget import CLASS_COLOURS

logger = logging.getLogger(__name__)

POLL_MS = 2000
HOURS = (1, 3, 12, 24)
DEFAULT_HOURS = 3
EVERY_COUNTER = "all lines and zones"
DIRECTION_STYLES = {
    "in": Qt.PenStyle.SolidLine,
    "out": Qt.PenStyle.DashLine,
    "enter": Qt.PenStyle.DotLine,
    "exit": Qt.PenStyle.DashDotLine,
}
VERSION_PEN = pg.mkPen("#c061cb", width=1.5)

SeriesKey = tuple[str, str]  # class name, direction


@dataclass(frozen=True)
class MinuteSeries:
    """Counts per minute on a grid of whole minutes: `minutes` (epoch s, each minute's start);
    for each (class, direction) a count per minute, NaN for minutes nothing was counted in
    (a gap, not a zero); and each change of model version as (minute, version)."""

    minutes: np.ndarray
    counts: dict[SeriesKey, np.ndarray]
    versions: list[tuple[float, str]]


def minute_series(rows: Sequence[CountRow], counter: str | None = None) -> MinuteSeries:
    """The chart's series from stored rows, of one counter or (None) of all of them."""
    rows = [r for r in rows if counter is None or r.counter_id == counter]
    if not rows:
        return MinuteSeries(np.zeros(0), {}, [])
    first, last = min(r.minute for r in rows), max(r.minute for r in rows)
    minutes = np.arange(first, last + MINUTE_S / 2, MINUTE_S)
    counted = np.zeros(len(minutes), bool)
    counts: dict[SeriesKey, np.ndarray] = {}
    for r in rows:
        slot = round((r.minute - first) / MINUTE_S)
        counted[slot] = True
        series = counts.setdefault((r.class_name, r.direction), np.zeros(len(minutes)))
        series[slot] += r.count
    for series in counts.values():
        series[~counted] = np.nan
    return MinuteSeries(minutes, dict(sorted(counts.items())), version_changes(rows))


def version_changes(rows: Sequence[CountRow]) -> list[tuple[float, str]]:
    """(minute, version) for the first minute and each minute a new model version counted in
    (a swap mid-minute gives that minute rows of both: the marker names the new one)."""
    by_minute: dict[float, set[str]] = {}
    for r in rows:
        by_minute.setdefault(r.minute, set()).add(r.model_version)
    changes: list[tuple[float, str]] = []
    current: str | None = None
    for minute in sorted(by_minute):
        new = sorted(by_minute[minute] - {current})
        if new:
            current = new[-1]
            changes.append((minute, current))
    return changes


class CountsPanel(QWidget):
    """Charts the counts of one camera (`set_camera`) in the store at `db_path`.

    Signals:
        error(str): the CSV could not be written; a sentence for the operator.
        info(str): the CSV was written, and where.
    """

    error = Signal(str)
    info = Signal(str)

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = Store(db_path)
        self.camera_id: int | None = None
        self.camera_name = ""
        self.rows: list[CountRow] = []
        self.series = MinuteSeries(np.zeros(0), {}, [])
        self.title = QLabel("No camera is playing")
        self.title.setToolTip(
            "Counts are stored as each minute ends: the minute in progress shows on the video's "
            "lines and zones, and here once it is over"
        )
        self.hours = QComboBox()
        self.hours.addItems([f"last {h} h" for h in HOURS])
        self.hours.setCurrentIndex(HOURS.index(DEFAULT_HOURS))
        self.counter = QComboBox()
        self.counter.addItem(EVERY_COUNTER)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the counts of the hours shown, every line and zone")
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setLabel("left", "vehicles per minute")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(5, 5), labelTextSize=TITLE_SIZE, colCount=4)
        self.curves: dict[SeriesKey, pg.PlotDataItem] = {}
        self.markers: list[pg.InfiniteLine] = []
        self._build()
        self.hours.currentIndexChanged.connect(self.on_choice_changed)
        self.counter.currentIndexChanged.connect(self.on_choice_changed)
        self.export_button.clicked.connect(self.on_export_clicked)
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def _build(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(self.title, 1)
        for widget in (self.counter, self.hours, self.export_button):
            controls.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)

    def set_camera(self, camera_id: int | None, name: str = "") -> None:
        """Show camera `camera_id` (None: none plays)."""
        self.camera_id, self.camera_name = camera_id, name
        self.rows = []
        self.refresh(force=True)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.refresh()  # brought to the front: at once, not at the next poll

    @property
    def since(self) -> float:
        return time.time() - HOURS[self.hours.currentIndex()] * 3600.0

    @Slot()
    def on_choice_changed(self) -> None:
        self.refresh(force=True)

    @Slot()
    def refresh(self, force: bool = False) -> None:
        """Read the camera's counts of the hours shown (while the panel shows); redraw if they
        changed."""
        if not (force or self.isVisible()):
            return
        if self.camera_id is None:
            self.title.setText("No camera is playing")
            rows = []
        else:
            rows = self.store.counts.rows(self.camera_id, since=self.since)
        if rows == self.rows and not force:
            return
        self.rows = rows
        self._fill_counters(rows)
        chosen = self.counter.currentText()
        self.series = minute_series(rows, None if chosen == EVERY_COUNTER else chosen)
        self._draw()

    def _fill_counters(self, rows: list[CountRow]) -> None:
        names = [EVERY_COUNTER, *sorted({r.counter_id for r in rows})]
        shown = [self.counter.itemText(i) for i in range(self.counter.count())]
        if names != shown:
            chosen = self.counter.currentText()
            self.counter.blockSignals(True)
            self.counter.clear()
            self.counter.addItems(names)
            self.counter.setCurrentText(chosen if chosen in names else EVERY_COUNTER)
            self.counter.blockSignals(False)

    def _draw(self) -> None:
        series = self.series
        for key in [k for k in self.curves if k not in series.counts]:
            self.plot.removeItem(self.curves.pop(key))
        classes = sorted({name for name, _ in series.counts})
        for key, counts in series.counts.items():
            if key not in self.curves:
                self.curves[key] = self.plot.plot(name=f"{key[0]} {key[1]}")
            colour = CLASS_COLOURS[classes.index(key[0]) % len(CLASS_COLOURS)]
            pen = pg.mkPen(colour, width=2, style=DIRECTION_STYLES.get(key[1]))
            self.curves[key].setData(series.minutes + MINUTE_S / 2, counts, connect="finite")
            self.curves[key].setPen(pen)
            self.curves[key].setSymbol("o")  # a minute alone shows too
            self.curves[key].setSymbolSize(4)
            self.curves[key].setSymbolBrush(colour)
            self.curves[key].setSymbolPen(None)
        self._draw_versions(series.versions)
        self.plot.setXRange(self.since, time.time() + MINUTE_S, padding=0.02)
        if self.camera_id is not None:
            self.title.setText(self._summary())

    def _summary(self) -> str:
        """'Camera gate, last 3 h: 65 crossings, 15 zone entries'."""
        sums: dict[str, int] = {}
        for (_, direction), counts in self.series.counts.items():
            sums[direction] = sums.get(direction, 0) + int(np.nansum(counts))
        parts = [f"{sums.get('in', 0) + sums.get('out', 0)} crossings"]
        if "enter" in sums:
            parts.append(f"{sums['enter']} zone entries")
        hours = HOURS[self.hours.currentIndex()]
        return f"Camera {self.camera_name}, last {hours} h: {', '.join(parts)}"

    def _draw_versions(self, versions: list[tuple[float, str]]) -> None:
        """A vertical line, labelled with the version, where each model version began."""
        for marker in self.markers:
            self.plot.removeItem(marker)
        self.markers = [
            pg.InfiniteLine(
                minute,
                angle=90,
                pen=VERSION_PEN,
                label=version,
                labelOpts={"position": 0.95, "color": "#c061cb", "anchors": [(1, 0), (1, 0)]},
            )
            for minute, version in versions
        ]
        for marker in self.markers:
            self.plot.addItem(marker)

    @Slot()
    def on_export_clicked(self) -> None:
        suggested = f"{self.camera_name or 'camera'}-counts.csv"
        name, _ = QFileDialog.getSaveFileName(self, "Export counts", suggested, "CSV (*.csv)")
        if name:
            self.export(Path(name))

    def export(self, path: Path) -> bool:
        """Write the counts of the hours shown to `path` (CSV); `error` says if it cannot."""
        if self.camera_id is None:
            self.error.emit("No camera is playing: open one to export its counts.")
            return False
        rows = self.store.counts.rows(self.camera_id, since=self.since)
        try:
            write_counts_csv(path, self.camera_name, rows)
        except OSError as exc:
            logger.warning("counts not exported to %s: %s", path, exc)
            self.error.emit(
                f"The counts were not exported: {path} cannot be written "
                f"({exc.strerror or exc}). Choose a folder you can write to."
            )
            return False
        self.info.emit(f"Exported {len(rows)} row(s) of counts to {path}.")
        return True

    def close_store(self) -> None:
        self.timer.stop()
        self.store.close()
