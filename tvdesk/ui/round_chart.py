"""A retraining job's rounds: the mAP50 each round's candidate reached on the job's own val
split of the drifted frames (night, in the demo) and on the base val split (day), round
after round, promoted rounds filled, kept ones hollow; and a line per round saying what it
did. Redrawn only when the rounds change."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from tvdesk.ui.chart_scale import SteppedRange

SERIES = (("drift", "#1c71d8", "drifted val (night)"), ("base", "#e5a50a", "base val (day)"))


def round_values(rounds: Sequence[dict], data_set: str) -> list[tuple[int, float, bool]]:
    """(round, candidate mAP50 on `data_set`, promoted) of each round that was gated."""
    values = []
    for r in rounds:
        figure = ((r.get("metrics") or {}).get("candidate") or {}).get(data_set, {}).get("map50")
        if figure is not None:
            values.append((r["round"], figure, bool(r.get("promoted"))))
    return values


def round_line(r: dict) -> str:
    """'Round 2: version 3 live · 200 new frames · 10.0 min of fine-tuning · gain +0.080'."""
    outcome = f"version {r['model_version']} live" if r.get("promoted") else "kept the last one"
    minutes = r.get("train_seconds", 0.0) / 60
    gain = (r.get("gate") or {}).get("drift_gain")
    gained = f" · gain {gain:+.3f}" if gain is not None else ""
    return (
        f"Round {r['round']}: {outcome} · {r.get('labelled') or 0} new frames · "
        f"{minutes:.1f} min of fine-tuning{gained}"
    )


class RoundChart(QWidget):
    """mAP50 per round of the selected job, with a line per round."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        charts = pg.GraphicsLayoutWidget()
        charts.setMinimumHeight(120)
        self.plot = charts.addPlot()
        self.plot.hideButtons()
        self.curves: dict[str, pg.PlotDataItem] = {}
        names = []
        for data_set, colour, name in SERIES:
            self.curves[data_set] = self.plot.plot(
                pen=pg.mkPen(colour, width=2), symbol="o", symbolPen=pg.mkPen(colour, width=2)
            )
            names.append(f"<span style='color:{colour}'>■</span> {name}")
        self.key = QLabel(
            "mAP50 per round (filled: swapped in): " + " · ".join(names), wordWrap=True
        )
        self.lines = QLabel("No rounds yet: the first one ends with the gate", wordWrap=True)
        self.round_range = SteppedRange(self.plot, "x")
        SteppedRange(self.plot, "y").set(0.0, 1.0)
        self.round_range.set(1.0, 2.0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.key)
        layout.addWidget(charts, 1)
        layout.addWidget(self.lines)
        self._shown: list[dict] | None = None

    def show_rounds(self, rounds: Sequence[dict]) -> None:
        if list(rounds) == self._shown:
            return
        self._shown = list(rounds)
        self.round_range.set(1.0, float(max(2, len(rounds))))
        for data_set, colour, _ in SERIES:
            values = round_values(rounds, data_set)
            self.curves[data_set].setData(
                [v[0] for v in values],
                [v[1] for v in values],
                symbolBrush=[colour if v[2] else "w" for v in values],
            )
        text = "\n".join(round_line(r) for r in rounds)
        self.lines.setText(text or "No rounds yet: the first one ends with the gate")
