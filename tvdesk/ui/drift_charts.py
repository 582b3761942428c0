"""The drift dashboard's smaller charts: alarm marks on a time axis, the driver bars, and a
feature's live values against its reference distribution. Each owns a pyqtgraph plot."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg

from tvdesk.core.drift.explain import label
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.drift.status import DriftStatus
from tvdesk.ui.chart_scale import TITLE_SIZE, SteppedRange, step_up
from tvdesk.ui.drift_history import AlarmSpan

MAX_BARS = 5
REACHES = (2.0, 5.0, 10.0, 20.0, 50.0)  # the driver chart's x half-ranges (σ)
ALARM_BRUSH = (237, 51, 59, 170)
BAND = (0.93, 1.0)  # the alarm band's share of the plot height
LIVE_BINS = 20


class AlarmMarks:
    """A red band along the top for each alarm's span, and a line where it began.
    Items are made once per alarm and moved as it goes on; old ones are removed."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self._marks: dict[float, tuple[pg.LinearRegionItem, pg.InfiniteLine]] = {}

    @property
    def count(self) -> int:
        return len(self._marks)

    def clear(self) -> None:
        for start in list(self._marks):
            self._remove(start)

    def show(self, alarms: Iterable[AlarmSpan], since: float, now: float) -> None:
        """Mark the alarms that reach into the window from `since` to `now` (history s), on
        an axis of seconds before `now`."""
        shown = {a.start: a for a in alarms if a.end is None or a.end >= since}
        for start in [s for s in self._marks if s not in shown]:
            self._remove(start)
        for start, alarm in shown.items():
            if start not in self._marks:
                self._marks[start] = self._add()
            region, line = self._marks[start]
            end = alarm.end if alarm.end is not None else now
            region.setRegion((max(start, since) - now, max(end, start) - now))
            line.setValue(start - now)

    def _add(self) -> tuple[pg.LinearRegionItem, pg.InfiniteLine]:
        region = pg.LinearRegionItem(  # a band along the top: a full-height fill is slow
            (0, 0), movable=False, brush=ALARM_BRUSH, pen=pg.mkPen(None), span=BAND
        )
        line = pg.InfiniteLine(0, pen=pg.mkPen("#ed333b", width=2))
        self.plot.addItem(region)
        self.plot.addItem(line)
        return region, line

    def _remove(self, start: float) -> None:
        for item in self._marks.pop(start):
            self.plot.removeItem(item)


class DriverBars:
    """Diverging bars: the features driving the alarm, or the largest deviations when calm;
    each named beside zero on the side its bar does not take."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.setTitle("Drivers (σ from reference)", size=TITLE_SIZE)
        plot.hideAxis("left")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[])
        plot.addItem(self.bars)
        self.labels = [pg.TextItem(color="#deddda") for _ in range(MAX_BARS)]
        for text in self.labels:
            plot.addItem(text)
        SteppedRange(plot, "y").set(-0.6, MAX_BARS - 0.4)
        self.reach = SteppedRange(plot, "x")
        self.names: list[str] = []
        self._shown: tuple = ()

    def show(self, status: DriftStatus) -> None:
        if status.drivers:
            items = list(status.drivers.items())[:MAX_BARS]
            colour, title = "#ed333b", "Drivers of the alarm (σ from reference)"
        else:
            deviation = np.nan_to_num(status.deviation)
            order = np.argsort(-np.abs(deviation))[:MAX_BARS]
            items = [(status.features[j], float(deviation[j])) for j in order if deviation[j]]
            colour, title = "#9a9996", "Largest deviations (σ from reference)"
        values = np.array([v for _, v in items], float)
        rows = MAX_BARS - 1 - np.arange(len(items), dtype=float)
        self.bars.setOpts(
            x0=np.minimum(values, 0), y=rows, width=np.abs(values), height=0.6, brush=colour
        )
        reach = step_up(float(np.abs(values).max()) if len(values) else 0.0, REACHES)
        self.reach.set(-reach, reach)
        self.names = [name for name, _ in items]
        shown = (tuple(self.names), tuple(values < 0), title)
        if shown != self._shown:
            self._shown = shown
            self.plot.setTitle(title, size=TITLE_SIZE)
            self._place_labels(values, rows)

    def _place_labels(self, values: np.ndarray, rows: np.ndarray) -> None:
        for i, text in enumerate(self.labels):
            if i >= len(self.names):
                text.setText("")
                continue
            text.setText(label(self.names[i]))
            text.setAnchor((0.0, 0.5) if values[i] < 0 else (1.0, 0.5))
            text.setPos(0.0, rows[i])


class DistributionChart:
    """The top feature's recent live values (histogram) over its reference density, both
    scaled to a peak of 1 so that their places, not their heights, are what one compares."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.live = pg.BarGraphItem(x0=[], x1=[], height=[], brush=(248, 228, 92, 110), pen=None)
        plot.addItem(self.live)
        self.reference = pg.PlotCurveItem(pen=pg.mkPen("#62a0ea", width=2))
        plot.addItem(self.reference)
        plot.hideAxis("left")
        plot.setTitle(distribution_title(None, False), size=TITLE_SIZE)
        self.feature: str | None = None
        self._has_reference = False
        self._drawn: tuple = ()

    def show(
        self, feature: str | None, profile: ReferenceProfile | None, live: Sequence[float]
    ) -> None:
        values = np.asarray(live, float)
        key = (feature, id(profile), len(values), values[-1] if len(values) else None)
        if key == self._drawn:
            return
        self._drawn = key
        x, density = reference_density(profile, feature, values)
        if (feature, len(x) > 0) != (self.feature, self._has_reference):
            self.feature, self._has_reference = feature, len(x) > 0
            self.plot.setTitle(distribution_title(feature, len(x) > 0), size=TITLE_SIZE)
        if len(values) >= 2:
            counts, edges = np.histogram(values, bins=LIVE_BINS)
            self.live.setOpts(x0=edges[:-1], x1=edges[1:], height=counts / counts.max())
        else:
            self.live.setOpts(x0=[], x1=[], height=[])
        self.reference.setData(x, density)


def distribution_title(feature: str | None, has_reference: bool) -> str:
    live = "<span style='color:#f8e45c'>live</span>"
    if feature is None:
        return f"Reference vs {live}"
    if not has_reference:
        return f"{label(feature)}: {live} (no reference for this feature)"
    return f"{label(feature)}: <span style='color:#62a0ea'>reference</span> vs {live}"


def reference_density(
    profile: ReferenceProfile | None, feature: str | None, live: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The reference of `feature` as a density scaled to a peak of 1: one normal per mode
    (robust centre and sigma) weighted by its frames, over a range covering the live values."""
    if profile is None or feature is None or feature not in profile.features:
        return np.zeros(0), np.zeros(0)
    j = profile.features.index(feature)
    modes = [
        (m.centre[j], m.scale[j], m.frames)
        for m in profile.modes
        if math.isfinite(m.centre[j]) and math.isfinite(m.scale[j]) and m.scale[j] > 0
    ]
    if not modes:
        return np.zeros(0), np.zeros(0)
    low = min(c - 4 * s for c, s, _ in modes)
    high = max(c + 4 * s for c, s, _ in modes)
    if len(live):
        low, high = min(low, float(live.min())), max(high, float(live.max()))
    x = np.linspace(low, high, 200)
    total = sum(n for _, _, n in modes) or 1
    density = sum(
        n / total * np.exp(-0.5 * ((x - c) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        for c, s, n in modes
    )
    return x, density / density.max()
