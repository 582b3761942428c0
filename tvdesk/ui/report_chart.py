"""The headless demo's charts, drawn with pyqtgraph offscreen and saved as PNGs: drift,
detection quality and the model in use over stream time; and the held-out mAP50 of each
version the job promoted against the time since the approval."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tvdesk.core.session.events import AlarmRaised, JobQueued, SwapDone
from tvdesk.demo.headless import DemoRun

WIDTH, HEIGHT = 1400, 900
WINDOW_S = 5.0  # seconds of stream averaged per point of the quality curves
ROUNDS_WIDTH, ROUNDS_HEIGHT = 1200, 600
DAY_DROP_ALLOWED = 0.03  # the day loss the gate allows, drawn as the day's floor
TARGET_MINUTES = 45  # the night target's deadline after the approval, drawn as a line


def save_demo_chart(report: dict, run: DemoRun, path: Path) -> Path:
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    layout = pg.GraphicsLayoutWidget()
    layout.resize(WIDTH, HEIGHT)
    layout.show()  # offscreen: lays the plots out over the whole size
    records = run.records
    t = np.array([r.stream for r in records])
    marks = _marks(run)

    drift = layout.addPlot(row=0, col=0, title="Drift test: largest statistic / threshold")
    drift.plot(t, [r.drift_ratio for r in records], pen=pg.mkPen("#1c71d8", width=2))
    drift.addLine(y=1.0, pen=pg.mkPen("#c01c28", style=pg.QtCore.Qt.PenStyle.DashLine))
    drift.setLogMode(y=False)

    quality = layout.addPlot(row=1, col=0, title="Detection quality (5 s windows)")
    quality.addLegend(offset=(-10, 10))
    centres, conf, recall, precision = _windows(records)
    quality.plot(centres, conf, pen=pg.mkPen("#26a269", width=2), name="mean confidence")
    if np.isfinite(recall).any():
        quality.plot(centres, recall, pen=pg.mkPen("#e66100", width=2), name="recall (truth)")
        quality.plot(centres, precision, pen=pg.mkPen("#813d9c", width=2), name="precision (truth)")
    quality.setYRange(0, 1.05)

    counts = layout.addPlot(row=2, col=0, title="Vehicles per frame")
    counts.addLegend(offset=(-10, 10))
    counts.plot(t, [r.detections for r in records], pen=pg.mkPen("#5e5c64"), name="detected")
    if any(r.truth >= 0 for r in records):
        truth = [max(r.truth, 0) for r in records]
        counts.plot(t, truth, pen=pg.mkPen("#e5a50a"), name="true (synthetic)")
    counts.setLabel("bottom", "stream time (s)")
    for plot in (drift, quality, counts):
        plot.showGrid(x=True, y=True, alpha=0.2)
        for n, (x, label, colour) in enumerate(marks):
            pen = pg.mkPen(colour, width=2)
            if plot is drift:
                position = 0.9 - 0.17 * (n % 5)  # neighbouring marks' labels do not overlap
                line = pg.InfiniteLine(
                    x,
                    angle=90,
                    pen=pen,
                    label=label,
                    labelOpts={"position": position, "color": colour, "fill": "#ffffffd0"},
                )
            else:
                line = pg.InfiniteLine(x, angle=90, pen=pen)
            plot.addItem(line)
        if plot is not drift:
            plot.setXLink(drift)
    _app.processEvents()
    exporter = pg.exporters.ImageExporter(layout.scene())
    exporter.parameters()["width"] = WIDTH
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter.export(str(path))
    layout.close()
    return path


def _marks(run: DemoRun) -> list[tuple[float, str, str]]:
    marks = []
    if not run.options.videos:
        marks.append((run.options.day_s, "night falls", "#3d3846"))
    for timed in run.events:
        event = timed.event
        if isinstance(event, AlarmRaised):
            marks.append((event.event.start, "alarm", "#c01c28"))
        elif isinstance(event, JobQueued):
            marks.append((timed.stream, "approved", "#1c71d8"))
        elif isinstance(event, SwapDone) and event.swap.accepted:
            marks.append((timed.stream, f"model {event.swap.new_version} live", "#26a269"))
    return marks


def _windows(records) -> tuple[np.ndarray, ...]:
    if not records:
        empty = np.array([])
        return empty, empty, empty, empty
    end = records[-1].stream
    edges = np.arange(0.0, end + WINDOW_S, WINDOW_S)
    centres, conf, recall, precision = [], [], [], []
    for lo in edges:
        group = [r for r in records if lo <= r.stream < lo + WINDOW_S]
        if not group:
            continue
        scores = [r.mean_confidence for r in group if r.detections]
        known = [r for r in group if r.truth >= 0]
        truth = sum(r.truth for r in known)
        found = sum(r.detections for r in known)
        correct = sum(r.correct for r in known)
        centres.append(lo + WINDOW_S / 2)
        conf.append(np.mean(scores) if scores else 0.0)
        recall.append(correct / truth if truth else np.nan)
        precision.append(correct / found if found else np.nan)
    return tuple(np.array(v, float) for v in (centres, conf, recall, precision))


def save_rounds_chart(report: dict, path: Path) -> Path:
    """Held-out night and day mAP50 of the version live at each moment, against minutes
    since the approval, with the night target (0.9 x the bundled day) and the day floor (the
    old day less 0.03)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    figures = report["map50"]
    rows = [v for v in figures["versions"] if v["live_minutes_after_approval"] is not None]
    end = max(report["job"]["approval_to_end_wall_s"] / 60, rows[-1]["live_minutes_after_approval"])
    widget = pg.PlotWidget(title="Held-out mAP50 of the version live, after the approval")
    widget.resize(ROUNDS_WIDTH, ROUNDS_HEIGHT)
    plot = widget.getPlotItem()
    plot.addLegend(offset=(-10, -10))
    times = [r["live_minutes_after_approval"] for r in rows] + [end]
    for key, colour, name in (
        ("night_map50", "#1c71d8", "night"),
        ("day_map50", "#e5a50a", "day"),
    ):
        values = [r[key] for r in rows]
        plot.plot(times, values, stepMode="center", pen=pg.mkPen(colour, width=3), name=name)
        plot.plot(times[:-1], values, pen=None, symbol="o", symbolBrush=colour, symbolSize=8)
    dashed = pg.QtCore.Qt.PenStyle.DashLine
    if figures.get("bundled_day_map50"):
        target = 0.9 * figures["bundled_day_map50"]
        plot.addItem(pg.InfiniteLine(target, angle=0, pen=pg.mkPen("#1c71d8", style=dashed)))
        plot.addItem(_label(f"night target {target:.3f} (0.9 x bundled day)", 0, target, (0, 0)))
    floor = rows[0]["day_map50"] - DAY_DROP_ALLOWED
    plot.addItem(pg.InfiniteLine(floor, angle=0, pen=pg.mkPen("#e5a50a", style=dashed)))
    plot.addItem(_label(f"day floor {floor:.3f} (old day - {DAY_DROP_ALLOWED})", 0, floor, (0, 0)))
    plot.addItem(pg.InfiniteLine(TARGET_MINUTES, angle=90, pen=pg.mkPen("#c01c28", style=dashed)))
    plot.addItem(_label(f"{TARGET_MINUTES} min", TARGET_MINUTES, 1.0, anchor=(1, 0)))
    for row in rows[1:]:
        x = row["live_minutes_after_approval"]
        plot.addItem(_label(f"v{row['version']}", x, row["night_map50"], anchor=(0, 1)))
    plot.setLabel("bottom", "minutes since the approval")
    plot.setLabel("left", "mAP50 on 200 held-out synthetic frames")
    plot.setYRange(0, 1.0)
    plot.showGrid(x=True, y=True, alpha=0.2)
    widget.show()
    _app.processEvents()
    exporter = pg.exporters.ImageExporter(plot)
    exporter.parameters()["width"] = ROUNDS_WIDTH
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter.export(str(path))
    widget.close()
    return path


def _label(text: str, x: float, y: float, anchor: tuple[float, float] = (1, 1)):
    import pyqtgraph as pg

    item = pg.TextItem(text, color="#3d3846", anchor=anchor)
    item.setPos(x, y)
    return item
