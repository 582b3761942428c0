"""The live session's part of the main window: the drift banner, the jobs, models and counts
panels, the Counting toolbar, the Retraining menu, the label review dialog, and a notice for
each thing the session reports.

It only wires widgets to the `SessionBridge`; the decisions themselves are the session's. The
window it lives in is a `SessionHost`: the few things it may ask of it, and nothing more.
"""

from __future__ import annotations

import logging
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QInputDialog, QMenu, QToolBar, QWidget

from tvdesk.config import SettingsError, update_settings
from tvdesk.core.session.events import AlarmRaised, JobQueued, ModelPromoted
from tvdesk.core.store import Camera
from tvdesk.core.store.job import Job, JobState
from tvdesk.retrain.review_folder import ReviewFolder
from tvdesk.ui.counting_view import CountingView
from tvdesk.ui.drift_banner import DriftBannerWidget
from tvdesk.ui.jobs_panel import JobsPanel
from tvdesk.ui.models_panel import ModelsPanel
from tvdesk.ui.review_dialog import LabelReviewDialog
from tvdesk.ui.session_bridge import SessionBridge
from tvdesk.ui.video_widget import VideoWidget


class SessionHost(Protocol):
    """What the session's widgets need from the window that holds them."""

    video: VideoWidget

    def addToolBar(self, toolbar: QToolBar) -> None:  # noqa: N802 (QMainWindow's)
        """Add `toolbar` above the video."""

    def insert_banner(self, banner: QWidget) -> None:
        """Put `banner` above the video."""

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Add `widget` as a dock panel."""

    def add_menu(self, menu: QMenu) -> None:
        """Add `menu` to the menu bar."""

    def show_info(self, message: str) -> None: ...

    def show_error(self, message: str) -> None: ...

    def set_jobs_summary(self, text: str) -> None:
        """Show the jobs' one-line summary in the status bar."""

    def class_names(self) -> list[str]:
        """The class names of the model playing now."""


logger = logging.getLogger(__name__)


class SessionView(QObject):
    """Adds the session's widgets to `window` and connects them to `bridge`."""

    def __init__(self, window: SessionHost, bridge: SessionBridge) -> None:
        super().__init__(window)
        self.window = window
        self.bridge = bridge
        session = bridge.session
        self.review: LabelReviewDialog | None = None
        self.banner = DriftBannerWidget(window)
        window.insert_banner(self.banner)
        self.jobs = JobsPanel(session.db_path, session.data_dir)
        self.models = ModelsPanel(session.db_path)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.jobs_dock = window.add_dock("Jobs", self.jobs, bottom)
        self.models_dock = window.add_dock("Models", self.models, bottom)
        self.counting = CountingView(window, bridge)
        self._build_menu()
        self._connect()

    def _build_menu(self) -> None:
        menu = QMenu("&Retraining", self.window)
        self.window.add_menu(menu)
        self.auto_approve = QAction("Approve retraining &automatically", self, checkable=True)
        self.auto_approve.setToolTip("Queue a retraining for every drift alarm without asking")
        self.auto_approve.setChecked(self.bridge.session.auto_approve)
        self.auto_approve.toggled.connect(self.on_auto_approve_toggled)
        menu.addAction(self.auto_approve)
        review = QAction("&Review labels of the waiting job…", self, shortcut="Ctrl+R")
        review.triggered.connect(self.on_review_waiting)
        menu.addAction(review)
        rollback = QAction("Roll &back the model", self)
        rollback.triggered.connect(lambda: self.bridge.rollback())
        menu.addAction(rollback)
        self.window.add_menu(self._camera_menu())

    def _camera_menu(self) -> QMenu:
        menu = QMenu("&Camera", self.window)
        rename = QAction("&Rename this camera…", self)
        rename.triggered.connect(self.on_rename_camera)
        relearn = QAction("Re-&learn what is normal for this camera", self)
        relearn.setToolTip("Record a new baseline from now on (e.g. after the camera was moved)")
        relearn.triggered.connect(self.on_relearn)
        menu.addActions([rename, relearn])
        return menu

    def _connect(self) -> None:
        banner, w = self.banner, self.window
        banner.approve_requested.connect(lambda event_id: self.bridge.approve(event_id))
        banner.approve_with_labels_requested.connect(
            lambda event_id, labels: self.bridge.approve(event_id, labels)
        )
        banner.dismiss_requested.connect(
            lambda event_id, expected: self.bridge.dismiss(event_id, expected)
        )
        self.jobs.job_finished.connect(self.on_job_finished)
        self.jobs.review_requested.connect(self.open_review)
        self.jobs.summary_changed.connect(w.set_jobs_summary)
        self.jobs.error.connect(w.show_error)
        self.models.activate_requested.connect(lambda model_id: self.bridge.activate(model_id))
        self.models.rollback_requested.connect(lambda: self.bridge.rollback())
        self.watch(self.bridge)

    def watch(self, bridge: SessionBridge) -> None:
        """Hear what `bridge`'s camera says: notices for every camera, the banner and the
        models panel for the one in focus."""
        bridge.alarm_raised.connect(self.on_alarm_raised)
        bridge.alarm_ended.connect(self.on_alarm_ended)
        bridge.job_queued.connect(self.on_job_queued)
        bridge.model_promoted.connect(self.on_model_promoted)
        bridge.dismissed.connect(self.on_dismissed)
        bridge.error.connect(self.on_error)
        if bridge is not self.bridge:
            self.counting.watch(bridge)

    def focus(self, bridge: SessionBridge) -> None:
        """The window shows the camera of `bridge` from now on."""
        self.bridge = bridge
        self.banner.hide()
        self.auto_approve.setChecked(bridge.session.auto_approve)
        self.counting.focus(bridge)
        camera = bridge.session.camera
        self.models.set_camera(camera.id if camera else None)

    def set_camera(self, camera: Camera | None) -> None:
        """The playing camera changed: its models, lines, zones and counts."""
        self.models.set_camera(camera.id if camera else None)
        self.counting.set_camera(camera)

    # -- what the session says ---------------------------------------------------------------

    @Slot(object)
    def on_alarm_raised(self, alarm: AlarmRaised) -> None:
        if self.sender() is not self.bridge:
            name = alarm.camera.name if alarm.camera else "another camera"
            self.window.show_error(f"Drift alarm on camera {name}: {alarm.event.summary}")
            return
        self.show_alarm(alarm)

    def show_alarm(self, alarm: AlarmRaised) -> None:
        """The banner on `alarm` (of the camera in focus)."""
        self.banner.show_alarm(alarm)
        if self.bridge.session.auto_approve:
            self.banner.plan.setText("Approving automatically (Retraining menu)…")
            self.banner.enable_decision()

    @Slot(object)
    def on_alarm_ended(self, ended: object) -> None:
        if self.sender() is self.bridge:
            self.banner.on_alarm_ended(ended)

    @Slot(int)
    def on_dismissed(self, event_id: int) -> None:
        if self.sender() is self.bridge:
            self.banner.on_dismissed(event_id)

    @Slot(object)
    def on_job_queued(self, queued: JobQueued) -> None:
        if self.sender() is self.bridge:
            self.banner.on_job_queued(queued)
        self.jobs.refresh()
        self.window.show_info(
            f"Retraining queued as job {queued.job.id} on the {queued.queue} queue."
        )

    @Slot(object)
    def on_model_promoted(self, promoted: ModelPromoted) -> None:
        if self.sender() is not self.bridge:
            return  # another camera's new version: its own tile shows it
        self.models.refresh()
        was = f" (was version {promoted.previous.version})" if promoted.previous else ""
        self.window.show_info(
            f"Model {promoted.version.name} v{promoted.version.version} is now this camera's"
            f"{was}; the player switches to it between two frames."
        )

    @Slot(str)
    def on_error(self, message: str) -> None:
        bridge = self.sender()
        if isinstance(bridge, SessionBridge) and bridge is not self.bridge:
            camera = bridge.session.camera
            message = f"Camera {camera.name}: {message}" if camera else message
        else:
            self.banner.enable_decision()
        self.window.show_error(message)

    @Slot(object)
    def on_job_finished(self, job: Job) -> None:
        if job.state == JobState.FAILED:
            self.window.show_error(f"Job {job.id} failed: {job.message}")
        else:
            self.window.show_info(f"Job {job.id} {job.state.value}: {job.message}")

    # -- the operator ------------------------------------------------------------------------

    @Slot(bool)
    def on_auto_approve_toggled(self, checked: bool) -> None:
        """Takes effect at once and is kept in the settings file for the next start."""
        self.bridge.session.auto_approve = checked
        try:
            update_settings(auto_approve=checked)
        except (OSError, SettingsError) as exc:
            logger.warning("auto-approve not saved: %s", exc)
            self.window.show_error(
                f"Auto-approve is {'on' if checked else 'off'} for now, "
                f"but could not be saved: {exc}"
            )

    @Slot()
    def on_rename_camera(self) -> None:
        camera = self.bridge.session.camera
        if camera is None:
            self.window.show_info("Open a camera first.")
            return
        name, ok = QInputDialog.getText(self.window, "Rename camera", "Name:", text=camera.name)
        if ok and name.strip() and name.strip() != camera.name:
            self.bridge.rename_camera(name.strip())

    @Slot()
    def on_relearn(self) -> None:
        self.bridge.relearn()
        self.window.show_info(
            "This camera is learning what normal looks like again; drift is tested once it has."
        )

    @Slot()
    def on_review_waiting(self) -> None:
        waiting = [job for job in self.jobs.jobs if self.jobs.review_waiting(job)]
        if waiting:
            self.open_review(waiting[0])
        else:
            self.window.show_info("No job is waiting for a label review.")

    @Slot(object)
    def open_review(self, job: Job) -> None:
        """The review dialog on `job`'s frames, beside the playing video (not modal)."""
        if self.review is not None and self.review.isVisible():
            self.review.raise_()
            return
        folder = ReviewFolder.of_job(self.bridge.session.data_dir, job)
        names = self.window.class_names()
        self.review = LabelReviewDialog(folder, names, self.window)
        self.review.review_finished.connect(
            lambda: self.window.show_info(
                f"Labels of job {job.id} saved; the job takes them up within seconds."
            )
        )
        self.review.show()

    def close(self) -> None:
        self.jobs.close_store()
        self.models.close_store()
        self.counting.close()
