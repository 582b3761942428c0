"""The jobs panel: every background job from the store, with its stage and progress; the
selected one in detail. Job state lives in the store (whichever process runs the job), so
the panel polls it twice a second; it never waits on a worker."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QProgressBar,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.store import Store
from tvdesk.core.store.job import Job, JobState
from tvdesk.retrain.context import cancel_job, stop_job
from tvdesk.retrain.review_folder import ReviewFolder
from tvdesk.ui.background import run_in_background
from tvdesk.ui.job_detail import JobDetailWidget
from tvdesk.ui.worker_log import WorkerLogTail

logger = logging.getLogger(__name__)

POLL_MS = 500  # 2 Hz
PROGRESS_WIDTH = 140
TABLE_HEIGHT = 70  # a few rows; the newest job is selected and shown in detail below
SHOWN_JOBS = 50
COLUMNS = ("Job", "State", "Stage", "Progress", "Message")
STATE_COLOURS = {"failed": "#c01c28", "cancelled": "#9a9996", "succeeded": "#26a269"}


class JobsPanel(QWidget):
    """Polls the jobs of the store at `db_path`; `data_dir` holds job folders and worker.log.

    Signals:
        job_finished(Job): a job seen running or queued has finished (succeeded, failed...).
        review_requested(Job): the operator wants to review the labels this job waits for.
        summary_changed(str): e.g. "jobs: 1 running, 2 queued", for the status bar.
        error(str): a cancel failed; a sentence for the operator.
    """

    job_finished = Signal(object)
    review_requested = Signal(object)
    summary_changed = Signal(str)
    error = Signal(str)

    def __init__(self, db_path: Path, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db_path = db_path
        self.data_dir = data_dir
        self.store = Store(db_path)
        self.jobs: list[Job] = []
        self._seen: dict[int, Job] = {}
        self._messages: dict[int, list[str]] = {}
        self._summary = ""
        self.worker_log = WorkerLogTail(data_dir / "worker.log")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(3, PROGRESS_WIDTH)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self.on_selection_changed)
        self.detail = JobDetailWidget()
        self.detail.cancel_requested.connect(self.cancel)
        self.detail.stop_after_round_requested.connect(self.on_stop_after_round_requested)
        self.detail.review_requested.connect(self.on_review_requested)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setSizes([TABLE_HEIGHT, 1000])  # the detail takes what the table leaves
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # -- polling ---------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Read the jobs (one small query); update what changed."""
        jobs = self.store.jobs.all(limit=SHOWN_JOBS)
        log_grew = self.worker_log.poll()
        for job in jobs:
            self._track(job)
        changed = [(j.id, j.updated) for j in jobs] != [(j.id, j.updated) for j in self.jobs]
        self.jobs = jobs
        if changed:
            self._fill_table()
        if changed or log_grew or self.isVisible():  # elapsed time, a review folder's state
            self._show_selected()
        self._report_summary()

    def _track(self, job: Job) -> None:
        before = self._seen.get(job.id)
        self._seen[job.id] = job
        if before is None or before.message != job.message:
            stamp = time.strftime("%H:%M:%S", time.localtime(job.updated or job.created))
            self._messages.setdefault(job.id, []).append(f"{stamp}  {job.message or job.state}")
        if before is not None and not before.state.finished and job.state.finished:
            self.job_finished.emit(job)

    def _report_summary(self) -> None:
        running = sum(j.state == JobState.RUNNING for j in self.jobs)
        queued = sum(j.state == JobState.QUEUED for j in self.jobs)
        summary = f"jobs: {running} running, {queued} queued" if running or queued else "no jobs"
        if summary != self._summary:
            self._summary = summary
            self.summary_changed.emit(summary)

    # -- the table -------------------------------------------------------------------------

    def _fill_table(self) -> None:
        selected = self.selected_job_id()
        self.table.setRowCount(len(self.jobs))
        for row, job in enumerate(self.jobs):
            cells = (f"{job.id}", job.state.value, stage_text(job), "", job.message)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, job.id)
                if column == 1 and job.state.value in STATE_COLOURS:
                    item.setForeground(Qt.GlobalColor.white)
                    item.setBackground(QColor(STATE_COLOURS[job.state.value]))
                self.table.setItem(row, column, item)
            bar = self.table.cellWidget(row, 3) or QProgressBar(maximum=100)
            bar.setValue(round(job.progress * 100))
            self.table.setCellWidget(row, 3, bar)
        if selected is None and self.jobs:
            selected = self.jobs[0].id
        self.select_job(selected)

    def select_job(self, job_id: int | None) -> None:
        for row, job in enumerate(self.jobs):
            if job.id == job_id:
                self.table.selectRow(row)
                return

    def selected_job_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def selected_job(self) -> Job | None:
        job_id = self.selected_job_id()
        return next((j for j in self.jobs if j.id == job_id), None)

    @Slot()
    def on_selection_changed(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            self.detail.show_job(None, [], review_waiting=False)
            return
        log = sorted(self._messages.get(job.id, []) + self.worker_log.lines(job.id))
        self.detail.show_job(job, log, review_waiting=self.review_waiting(job))

    def review_waiting(self, job: Job) -> bool:
        """Frames of this job wait for a person in the review dialog."""
        if job.state.finished or job.stage != "label" or "capture_dir" not in job.params:
            return False
        return ReviewFolder.of_job(self.data_dir, job).waiting

    # -- the operator ------------------------------------------------------------------------

    @Slot(int)
    def cancel(self, job_id: int) -> None:
        """Stop the job now: cancelled before its first promotion, its last promoted version
        kept after (off the GUI thread: the database may be busy a moment)."""
        self._stop(job_id, cancel_job, "stopped")

    @Slot(int)
    def on_stop_after_round_requested(self, job_id: int) -> None:
        """End the job once the round in progress has been gated."""
        self._stop(
            job_id,
            lambda store, i: stop_job(store, i, after_round=True),
            "marked to stop after this round",
        )

    def _stop(self, job_id: int, how, what: str) -> None:
        db_path = self.db_path

        def request() -> Job:
            with Store(db_path) as store:
                return how(store, job_id)

        run_in_background(
            request,
            what=f"stopping job {job_id}",
            done=lambda job: self.refresh(),
            failed=lambda exc: self.error.emit(f"Job {job_id} could not be {what}: {exc}"),
        )

    @Slot(int)
    def on_review_requested(self, job_id: int) -> None:
        job = next((j for j in self.jobs if j.id == job_id), None)
        if job is not None:
            self.review_requested.emit(job)

    def close_store(self) -> None:
        self.timer.stop()
        self.store.close()


def stage_text(job: Job) -> str:
    """'train', or 'train (round 2)' in a refinement round."""
    round_ = job.result.get("round", 1)
    stage = job.stage or "—"
    return f"{stage} (round {round_})" if round_ > 1 else stage
