"""What the app's pyqtgraph charts share: the title size, and axis ranges that change in steps.

A range that follows the data exactly changes with every new point, and then pyqtgraph redoes
the axis and every item of the plot; in steps, a new point only moves its curve.
"""

from __future__ import annotations

import pyqtgraph as pg

TITLE_SIZE = "9pt"


def step_up(value: float, steps: tuple[float, ...]) -> float:
    """The first of `steps` that is at least `value` (the last one if none is)."""
    return next((step for step in steps if value <= step), steps[-1])


class SteppedRange:
    """Sets a plot's axis range only when it changes."""

    def __init__(self, plot: pg.PlotItem, axis: str) -> None:
        self.plot, self.axis = plot, axis
        self.limits: tuple[float, float] | None = None
        plot.disableAutoRange()

    def set(self, low: float, high: float) -> None:
        if (low, high) == self.limits:
            return
        self.limits = (low, high)
        if self.axis == "x":
            self.plot.setXRange(low, high, padding=0.02)
        else:
            self.plot.setYRange(low, high, padding=0.05)
