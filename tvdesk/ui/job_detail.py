"""One job in detail: each stage of its round with its progress bar, the training's epoch
curves (loss and mAP) as they come, its rounds' mAP50 and its log (tabs, so that each has the
room), and Cancel (Stop now, once a version is live) / Stop after this round / Review
labels."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.store.job import Job, JobState
from tvdesk.retrain.context import STAGES
from tvdesk.ui.chart_scale import SteppedRange, step_up
from tvdesk.ui.round_chart import RoundChart

LOSS_KEYS = ("train/box_loss", "train/cls_loss", "train/dfl_loss")
MAP_KEYS = ("metrics/mAP50(B)", "metrics/mAP50-95(B)")
LOSS_LIMITS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
COLOURS = ("#f66151", "#f8e45c", "#62a0ea", "#57e389")
STAGE_WORDS = {
    "select": "Select frames",
    "label": "Label",
    "dataset": "Build dataset",
    "train": "Train",
    "evaluate": "Evaluate",
    "register": "Register",
}


def stage_fractions(job: Job) -> dict[str, tuple[float, str]]:
    """Each stage's progress (0..1) and a word for it, from the job's overall progress."""
    names = list(STAGES)
    current = names.index(job.stage) if job.stage in STAGES else -1
    out = {}
    for i, name in enumerate(names):
        start, end = STAGES[name]
        fraction = min(1.0, max(0.0, (job.progress - start) / (end - start)))
        if i < current or (job.state == JobState.SUCCEEDED and i <= current):
            out[name] = (1.0, "done")
        elif i == current:
            word = {"running": "%p%", "queued": "waiting"}.get(job.state.value, job.state.value)
            out[name] = (fraction, word)
        elif job.state == JobState.SUCCEEDED:
            out[name] = (0.0, "not needed")
        else:
            out[name] = (0.0, "")
    return out


class EpochChart(QWidget):
    """Training losses and validation mAP per epoch, redrawn when the epochs change; the
    epoch axis spans the planned epochs, so each new epoch only extends the curves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        charts = pg.GraphicsLayoutWidget()
        charts.setMinimumHeight(120)
        self.loss_plot = charts.addPlot(row=0, col=0)
        self.map_plot = charts.addPlot(row=0, col=1)
        self.curves: dict[str, pg.PlotCurveItem] = {}
        keys_text = []
        for plot, keys, what in (
            (self.loss_plot, LOSS_KEYS, "loss"),
            (self.map_plot, MAP_KEYS, "val. mAP"),
        ):
            # No titles or axis names: the key above says what is drawn; the room is the
            # curves'.
            plot.hideButtons()
            names = []
            for key, colour in zip(keys, COLOURS, strict=False):
                self.curves[key] = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2))
                plot.addItem(self.curves[key])
                short = key.split("/")[1].removesuffix("(B)").removesuffix("_loss")
                short = short.removeprefix("mAP")
                names.append(f"<span style='color:{colour}'>■</span> {short}")
            keys_text.append(f"{what} {' '.join(names)}")
        self.key = QLabel("Per epoch: " + " · ".join(keys_text), wordWrap=True)
        self.epoch_ranges = [SteppedRange(p, "x") for p in (self.loss_plot, self.map_plot)]
        self.loss_range = SteppedRange(self.loss_plot, "y")
        SteppedRange(self.map_plot, "y").set(0.0, 1.0)
        self.loss_range.set(0.0, LOSS_LIMITS[0])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.key)
        layout.addWidget(charts, 1)
        self._shown: list[dict] = []

    def show_epochs(self, epochs: Sequence[dict], planned: int) -> None:
        if list(epochs) == self._shown:
            return
        self._shown = list(epochs)
        last = max([planned, *(e["epoch"] for e in epochs)], default=1)
        for epoch_range in self.epoch_ranges:
            epoch_range.set(1.0, float(max(last, 2)))
        losses = [e[k] for e in epochs for k in LOSS_KEYS if k in e]
        self.loss_range.set(0.0, step_up(max(losses, default=0.0), LOSS_LIMITS))
        for key, curve in self.curves.items():
            points = [(e["epoch"], e[key]) for e in epochs if key in e]
            curve.setData([p[0] for p in points], [p[1] for p in points])


class JobDetailWidget(QWidget):
    """The selected job.

    Signals:
        cancel_requested(int): the operator asked to stop this job now (before its first
            promotion it is cancelled; after, its last promoted version stays live).
        stop_after_round_requested(int): the operator asked to end this job once the round
            in progress has been gated.
        review_requested(int): the operator wants to review this job's labels.
    """

    cancel_requested = Signal(int)
    stop_after_round_requested = Signal(int)
    review_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.heading = QLabel("No job selected", wordWrap=True)
        self.heading.setStyleSheet("font-weight: bold;")
        self.message = QLabel(wordWrap=True)
        self.bars: dict[str, QProgressBar] = {}
        stages = QGridLayout()
        stages.setVerticalSpacing(2)
        for i, name in enumerate(STAGES):
            bar = QProgressBar(maximum=1000, textVisible=True)
            self.bars[name] = bar
            row, column = i % 3, 2 * (i // 3)  # two columns of three stages
            stages.addWidget(QLabel(STAGE_WORDS[name]), row, column)
            stages.addWidget(bar, row, column + 1)
        self.chart = EpochChart()
        self.rounds = RoundChart()
        self.log = QPlainTextEdit(readOnly=True, maximumBlockCount=2000)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setPlaceholderText("The job's log appears here")
        self.cancel_button = QPushButton("&Cancel job")
        self.stop_after_button = QPushButton("Stop &after this round")
        self.review_button = QPushButton("&Review labels…")
        self.cancel_button.clicked.connect(lambda: self._request(self.cancel_requested))
        self.stop_after_button.clicked.connect(
            lambda: self._request(self.stop_after_round_requested)
        )
        self.review_button.clicked.connect(lambda: self._request(self.review_requested))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.review_button, self.stop_after_button, self.cancel_button):
            buttons.addWidget(button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        for item in (self.heading, self.message):
            column.addWidget(item)
        column.addLayout(stages)
        column.addStretch(1)
        column.addLayout(buttons)
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.chart, "&Epoch curves")
        self.tabs.addTab(self.rounds, "R&ounds")
        self.tabs.addTab(self.log, "Job &log")
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 750])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._log_lines: tuple[str, ...] = ()
        self.job_failed_shown: int | None = None
        self.show_job(None, [], review_waiting=False)

    def show_job(self, job: Job | None, log: Sequence[str], *, review_waiting: bool) -> None:
        self.job = job
        running = job is not None and not job.state.finished
        self._show_buttons(job, running, review_waiting)
        if job is None:
            self.heading.setText("No job selected")
            self.message.clear()
            self._show_log(())
            return
        if job.state == JobState.FAILED and self.job_failed_shown != job.id:
            self.job_failed_shown = job.id
            self.tabs.setCurrentWidget(self.log)  # the reason is in the log
        self.heading.setText(describe_job(job))
        self.message.setText(job.message)
        for name, (fraction, word) in stage_fractions(job).items():
            self.bars[name].setValue(round(fraction * 1000))
            self.bars[name].setFormat(word)
        # A time-budgeted fine-tune knows its epochs once the first one is timed.
        planned = job.result.get("planned_epochs") or job.params.get("settings", {}).get("epochs")
        planned = int(planned or 1)
        self.chart.show_epochs(job.result.get("epochs", []), planned)
        self.rounds.show_rounds(job.result.get("rounds", []))
        self._show_log(log)

    def _show_buttons(self, job: Job | None, running: bool, review_waiting: bool) -> None:
        """Cancel until a version is live, then Stop now (keeping it); Stop after this round
        until asked."""
        live = job.result.get("model_version") if job is not None else None
        self.cancel_button.setText(f"Stop &now, keep version {live}" if live else "&Cancel job")
        self.cancel_button.setEnabled(running)
        asked = job is not None and job.result.get("stop_after_round")
        self.stop_after_button.setEnabled(running and not asked)
        self.stop_after_button.setText(
            "Stops after this round" if asked else "Stop &after this round"
        )
        self.review_button.setEnabled(running and review_waiting)

    def _show_log(self, lines: Sequence[str]) -> None:
        lines, shown = tuple(lines), self._log_lines
        if lines == shown:
            return
        self._log_lines = lines
        if shown and lines[: len(shown)] == shown:  # the usual case: new lines at the end
            self.log.appendPlainText("\n".join(lines[len(shown) :]))
        else:
            self.log.setPlainText("\n".join(lines))
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def _request(self, signal) -> None:
        if self.job is not None:
            signal.emit(self.job.id)


def describe_job(job: Job) -> str:
    """'Job 3 · retrain · round 2 · running for 12 min 10 s'."""
    since = job.started or job.created
    until = job.finished or time.time()
    minutes, seconds = divmod(int(max(0.0, until - since)), 60)
    took = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    verb = "for" if not job.state.finished else "after"
    round_ = job.result.get("round", 1)
    rounds = f" · round {round_}" if round_ > 1 else ""
    return f"Job {job.id} · {job.kind}{rounds} · {job.state.value} {verb} {took}"
