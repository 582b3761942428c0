"""The drift dashboard: how far each feature is from its alarm threshold over time, the alarms,
what drives them, the top feature's live values against its reference, and the detector's
output (boxes per frame, mean confidence).

Frame results only append numbers to a bounded `DriftHistory`; the charts redraw on a 10 Hz
timer, only while the dashboard is visible and something changed, one chart per tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from tvdesk.core.drift.explain import label
from tvdesk.core.drift.features import FrameFeatures, detection_features
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.drift.status import ALARM, LEARNING
from tvdesk.core.session.frame_loop import FrameResult
from tvdesk.ui.chart_scale import TITLE_SIZE, SteppedRange, step_up
from tvdesk.ui.drift_charts import AlarmMarks, DistributionChart, DriverBars
from tvdesk.ui.drift_history import DriftHistory

logger = logging.getLogger(__name__)

REDRAW_MS = 100  # 10 Hz
LATE_S = 0.03  # a tick this late means the event loop is busy: the charts let it catch up
MAX_WAIT_S = 0.5  # ... but are drawn at least this often
SAMPLE_EVERY = 5  # redraws between two live samples of the top feature (2 Hz)
TOP_FEATURES = 5  # curves on the statistic chart
WINDOWS_S = (60.0, 120.0, 300.0)  # time axis spans: the smallest that holds the history
STATISTIC_LIMITS = (2.0, 5.0, 11.0)  # the statistic chart's y half-ranges (sums stop at 10)
COUNT_LIMITS = (5.0, 10.0, 20.0, 50.0, 100.0, 300.0)
ROTATION = ("statistics", "drivers", "statistics", "distribution", "statistics", "detections")
CURVE_COLOURS = ("#f66151", "#f8e45c", "#62a0ea", "#57e389", "#dc8add")

ProfileSource = Callable[[], ReferenceProfile | None]


class DriftDashboardWidget(QWidget):
    """Charts of one stream's drift monitor; `add_result` is cheap, drawing happens on a timer."""

    def __init__(self, profile: ProfileSource | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = DriftHistory()
        self._profile = profile or (lambda: None)
        self._features = FrameFeatures()
        self._latest: FrameResult | None = None
        self._sampled: FrameResult | None = None
        self._drawn = dict.fromkeys(ROTATION, (0, 0))  # an empty history: nothing to draw
        self._parts = {
            "statistics": self._draw_statistics,
            "drivers": self._draw_drivers,
            "distribution": self._draw_distribution,
            "detections": self._draw_detections,
        }
        self._ticks = 0
        self._last_tick = self._last_draw = time.monotonic()
        self.redraws = 0
        self.state_label = QLabel("No source")
        self.state_label.setWordWrap(True)
        self.curve_key = QLabel()  # the statistic chart's legend, outside the scene: cheaper
        self.curve_key.setWordWrap(True)
        self.charts = pg.GraphicsLayoutWidget()
        self.charts.setMinimumSize(420, 520)  # the plots' own minimum: never clipped
        self._build_charts()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.state_label)
        layout.addWidget(self.curve_key)
        layout.addWidget(self.charts, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.on_tick)
        self.timer.start()

    def _build_charts(self) -> None:
        c = self.charts
        self.statistic_plot = c.addPlot(row=0, col=0, colspan=2)
        self.statistic_plot.setTitle("Drift statistic / threshold (alarm at ±1)", size=TITLE_SIZE)
        self.statistic_plot.setLabel("bottom", "seconds before now")
        far = -WINDOWS_S[-1]
        self.thresholds = pg.PlotCurveItem(
            [far, 0.0, np.nan, far, 0.0],
            [1.0, 1.0, np.nan, -1.0, -1.0],
            pen=pg.mkPen("#ed333b", style=Qt.PenStyle.DashLine),
            connect="finite",
        )
        self.statistic_plot.addItem(self.thresholds)
        self.alarm_marks = AlarmMarks(self.statistic_plot)
        # Plain curve items (no clipping or downsampling machinery): the history is short
        # and bounded, and every Python call on the GUI thread counts on a busy machine.
        self.curves = [pg.PlotCurveItem(pen=pg.mkPen(colour, width=2)) for colour in CURVE_COLOURS]
        for curve in self.curves:
            self.statistic_plot.addItem(curve)
        self._curve_features: list[int] = []
        self.drivers = DriverBars(c.addPlot(row=1, col=0, colspan=2))
        self.distribution = DistributionChart(c.addPlot(row=2, col=0, colspan=2))
        self.count_plot = c.addPlot(row=3, col=0)
        self.count_plot.setTitle("Detections per frame", size=TITLE_SIZE)
        self.confidence_plot = c.addPlot(row=3, col=1)
        self.confidence_plot.setTitle("Mean confidence", size=TITLE_SIZE)
        self.count_curve = pg.PlotCurveItem(pen=pg.mkPen("#62a0ea", width=1.5))
        self.confidence_curve = pg.PlotCurveItem(
            pen=pg.mkPen("#57e389", width=1.5), connect="finite"
        )
        self.count_plot.addItem(self.count_curve)
        self.confidence_plot.addItem(self.confidence_curve)
        for plot in (self.count_plot, self.confidence_plot):
            plot.hideAxis("bottom")  # the statistic chart above shows the same time axis
        # Time runs right to left over ranges that change in steps: a new frame moves the
        # curves' data, not the views, so axes and other items are not recomputed.
        time_plots = (self.statistic_plot, self.count_plot, self.confidence_plot)
        self.time_ranges = [SteppedRange(plot, "x") for plot in time_plots]
        self.statistic_range = SteppedRange(self.statistic_plot, "y")
        self.count_range = SteppedRange(self.count_plot, "y")
        SteppedRange(self.confidence_plot, "y").set(0.0, 1.0)
        self._fit_time(0.0)
        self.statistic_range.set(-STATISTIC_LIMITS[0], STATISTIC_LIMITS[0])
        self.count_range.set(0.0, COUNT_LIMITS[0])
        for plot in c.ci.items:
            plot.hideButtons()
        for row, stretch in enumerate((3, 2, 2, 2)):
            c.ci.layout.setRowStretchFactor(row, stretch)

    # -- input -----------------------------------------------------------------------------

    @Slot(object)
    def add_result(self, result: FrameResult) -> None:
        """One frame result (GUI thread): record the figures of a detected one; nothing is
        drawn here."""
        if result.detected:
            self.history.add(result.observations.get("drift"), result.detections)
            self._latest = result

    def reset(self) -> None:
        """A new source: forget the old one's history."""
        self.history = DriftHistory(self.history.seconds)
        self._latest = None
        self._drawn = dict.fromkeys(ROTATION, (-1, -1))  # draw the empty charts once
        self.alarm_marks.clear()
        self.state_label.setText("Waiting for frames…")

    # -- drawing ---------------------------------------------------------------------------

    @Slot()
    def on_tick(self) -> None:
        """Draw one chart whose data changed since it was drawn (round robin, the statistic
        chart every other tick): each tick's work on the GUI thread stays small. When the
        event loop is behind (this tick came late), the charts wait, up to MAX_WAIT_S."""
        now = time.monotonic()
        late = now - self._last_tick - REDRAW_MS / 1000
        self._last_tick = now
        if not self.isVisible() or (late > LATE_S and now - self._last_draw < MAX_WAIT_S):
            return
        self._last_draw = now
        self._ticks += 1
        if self._ticks % SAMPLE_EVERY == 0:
            self._sample_top_feature()
        for step in range(len(ROTATION)):
            part = ROTATION[(self._ticks + step) % len(ROTATION)]
            revision = self._revision(part)
            if self._drawn.get(part) != revision:
                self._drawn[part] = revision
                self._draw_state()
                self._parts[part]()
                self.redraws += 1
                return

    def redraw(self) -> None:
        """Draw every chart now."""
        self._draw_state()
        for part, draw in self._parts.items():
            self._drawn[part] = self._revision(part)
            draw()

    def _revision(self, part: str) -> tuple[int, int]:
        """What `part` was last drawn from: frames, and for the distribution its samples."""
        live = self.history.live_revision if part == "distribution" else 0
        return self.history.revision, live

    def _draw_statistics(self) -> None:
        times, ratios, _, _ = self.history.window()
        top = self.history.top_features(TOP_FEATURES)
        if top != self._curve_features:
            self._relabel(top)
        ago = times - times[-1] if len(times) else times
        shown = np.nan_to_num(ratios[:, top]) if ratios.size and top else np.zeros((len(ago), 0))
        for i, curve in enumerate(self.curves):
            if i < shown.shape[1]:
                curve.setData(ago, shown[:, i])
            else:
                curve.setData([], [])
        if len(times):
            self._fit_time(-ago[0])
            peak = step_up(float(np.abs(shown).max()) if shown.size else 0.0, STATISTIC_LIMITS)
            self.statistic_range.set(-peak, peak)
            self.alarm_marks.show(self.history.alarms, times[0], times[-1])

    def _fit_time(self, span: float) -> None:
        """The time axes show the smallest of `WINDOWS_S` that holds `span` seconds."""
        window = step_up(span, WINDOWS_S)
        for time_range in self.time_ranges:
            time_range.set(-window, 0.0)

    def _draw_drivers(self) -> None:
        if self.history.latest is not None:
            self.drivers.show(self.history.latest)

    def _draw_distribution(self) -> None:
        h = self.history
        self.distribution.show(h.top_feature(), self._profile(), h.live_values)

    def _draw_detections(self) -> None:
        times, _, counts, confidences = self.history.window()
        ago = times - times[-1] if len(times) else times
        self.count_curve.setData(ago, counts)
        self.confidence_curve.setData(ago, confidences)
        if len(counts):
            self.count_range.set(0.0, step_up(float(counts.max()), COUNT_LIMITS))

    def _draw_state(self) -> None:
        status = self.history.latest
        if status is None:
            text = "Drift monitor: no data yet"
        elif status.state == LEARNING:
            text = (
                "Drift monitor: learning what normal looks like on this camera "
                f"({status.learnt_seconds:.0f} of {status.baseline_seconds:.0f} s); "
                "drift is tested once it has"
            )
        elif status.state == ALARM:
            text = f"<b style='color:#ed333b'>DRIFT ALARM</b> — {status.summary}"
        else:
            text = "Drift monitor: watching — no drift"
        self.state_label.setText(text)

    def _relabel(self, top: list[int]) -> None:
        names = self.history.features
        self.curve_key.setText(
            " ".join(
                f"<span style='color:{colour}'>■</span> {label(names[j])}"
                for colour, j in zip(CURVE_COLOURS, top, strict=False)
            )
        )
        self._curve_features = top

    def _sample_top_feature(self) -> None:
        """The top feature's value on the newest frame, for its live distribution (at most
        2 Hz, and each frame once)."""
        name, result = self.history.top_feature(), self._latest
        if name is None or result is None or result is self._sampled:
            return
        self._sampled = result
        if name != self.distribution.feature:
            self.history.clear_live_values()
        values = detection_features(result.detections)
        names = self.history.features
        image_count = len(names) - len(values)
        j = names.index(name)
        if j >= image_count:
            self.history.add_live_value(float(values[j - image_count]))
            return
        try:
            self.history.add_live_value(float(self._features(result.frame.image)[j]))
        except ValueError as exc:
            logger.debug("no live value of %s: %s", name, exc)
