"""The main window: video with boxes, playback and detection controls, the drift dashboard,
the log, menus and status bar; with a live session also the drift banner, the jobs, models and
counts panels and the counting toolbar (`SessionView`). Errors are non-blocking notices; the
detail goes to the log.

UI state (geometry, recent files, confidence) persists in QSettings; behaviour settings are the
typed settings file's business.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.detector import SwapEvent
from tvdesk.core.session.counting import COUNTS
from tvdesk.core.session.frame_loop import FrameResult, LoopOutcome
from tvdesk.core.sources import SourceEvent, SourceInfo
from tvdesk.core.store import Camera
from tvdesk.ui.controls import PlaybackBar
from tvdesk.ui.drift_dashboard import DriftDashboardWidget
from tvdesk.ui.log_view import LogViewWidget
from tvdesk.ui.notice_bar import INFO_MS, NoticeBar
from tvdesk.ui.player import PlayerController
from tvdesk.ui.session_bridge import SessionBridge
from tvdesk.ui.session_view import SessionView
from tvdesk.ui.source_menu import SourceMenu
from tvdesk.ui.video_widget import VideoWidget

logger = logging.getLogger(__name__)

MAX_RECENT = 8
DRIFT_DOCK_WIDTH = 470
BOTTOM_DOCK_HEIGHT = 260
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov *.m4v *.webm *.mpg *.ts);;All files (*)"


class MainWindow(QMainWindow):
    """The operator's window onto one player controller (and its live session, if any)."""

    def __init__(
        self,
        player: PlayerController,
        bridge: SessionBridge | None = None,
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.player = player
        self.state = QSettings()
        self.setWindowTitle("tvdesk")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.frames_shown = 0
        self.notice = NoticeBar(self)
        self.video = VideoWidget(self)
        self.video.show_message("Open a video, a webcam or a stream (File menu), or drop a file")
        self.controls = PlaybackBar(self)
        central = QWidget(self)
        self.central_layout = QVBoxLayout(central)
        self.central_layout.setContentsMargins(0, 0, 0, 0)
        self.central_layout.addWidget(self.notice)
        self.central_layout.addWidget(self.video, 1)
        self.central_layout.addWidget(self.controls)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._build_menus()
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_docks(bridge, log_file)
        self.session_view = SessionView(self, bridge) if bridge is not None else None
        self._connect()
        self.controls.set_class_names(player.slot.current.names)
        confidence = float(
            self.state.value("detection/confidence", player.slot.current.thresholds.conf)
        )
        self.controls.set_confidence(confidence)
        current = player.slot.current
        self.model_label.setText(f"model {current.version} ({current.precision})")
        self.resize(1280, 800)
        self.restoreGeometry(self.state.value("window/geometry", b""))
        self._docks_placed = self.restoreState(self.state.value("window/state", b""))

    # -- construction ----------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        self.source_label = QLabel("no source")
        self.detections_label = QLabel()
        self.rate_label = QLabel()
        self.model_label = QLabel()
        self.jobs_label = QLabel()
        bar = self.statusBar()
        bar.addWidget(self.source_label, 1)
        bar.addWidget(self.detections_label, 1)
        for label in (self.rate_label, self.model_label, self.jobs_label):
            bar.addPermanentWidget(label)

    def _build_docks(self, bridge: SessionBridge | None, log_file: Path | None) -> None:
        def profile():  # of the camera in focus
            monitor = self.player.session.monitor
            return monitor.profile if monitor is not None else None

        self.dashboard = DriftDashboardWidget(profile)
        self.log_view = LogViewWidget(log_file)
        self.add_dock("Drift", self.dashboard, Qt.DockWidgetArea.RightDockWidgetArea)
        self.log_dock = self.add_dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.notice.log_requested.connect(self.show_log)

    def _place_docks(self) -> None:
        """The drift dock takes the right side from top to bottom; the others share the bottom
        under the video, the log in front only when there is nothing else."""
        docks = self.findChildren(QDockWidget)
        bottom = [
            d for d in docks if self.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea
        ]
        right = [
            d for d in docks if self.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea
        ]
        bottom[min(1, len(bottom) - 1)].raise_()
        self.resizeDocks(right, [DRIFT_DOCK_WIDTH] * len(right), Qt.Orientation.Horizontal)
        self.resizeDocks(bottom, [BOTTOM_DOCK_HEIGHT] * len(bottom), Qt.Orientation.Vertical)

    def insert_banner(self, banner: QWidget) -> None:
        self.central_layout.insertWidget(1, banner)

    def add_menu(self, menu: QMenu) -> None:
        self.menuBar().insertMenu(self.view_menu.menuAction(), menu)

    def set_jobs_summary(self, text: str) -> None:
        self.jobs_label.setText(text)

    def class_names(self) -> list[str]:
        return list(self.player.slot.current.names)

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A dock for `widget`, tabbed with the docks already in `area`; listed in View."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        siblings = [d for d in self.findChildren(QDockWidget) if self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if siblings:
            self.tabifyDockWidget(siblings[0], dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    @Slot()
    def show_log(self) -> None:
        self.log_dock.show()
        self.log_dock.raise_()

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.sources = SourceMenu(self, bar.addMenu("&File"), self.state)
        play_menu = bar.addMenu("&Playback")
        self._action(play_menu, "Play / &pause", self.on_play_pause, Qt.Key.Key_Space)
        self._action(play_menu, "&Step one frame", self.on_step, Qt.Key.Key_Period)
        self.view_menu = bar.addMenu("&View")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About tvdesk", self.on_about)

    def _connect(self) -> None:
        c = self.controls
        c.play_pause_clicked.connect(self.on_play_pause)
        c.step_clicked.connect(self.on_step)
        c.seek_requested.connect(lambda index: self.player.seek(index))
        c.confidence_changed.connect(self.on_confidence_changed)
        c.classes_changed.connect(lambda ids: self.player.set_class_filter(ids))
        self.watch(self.player, self.session_view.bridge if self.session_view else None)

    def watch(self, player: PlayerController, bridge: SessionBridge | None) -> None:
        """Hear `player` (and its session's `bridge`): what it says shows when it is the
        camera in focus; its errors show always, named."""
        player.result_ready.connect(self.on_result)
        player.source_opened.connect(self.on_source_opened)
        player.finished.connect(self.on_loop_finished)
        player.swapped.connect(self.on_swapped)
        player.source_event.connect(self.on_source_event)
        player.error.connect(self.on_player_error)
        if bridge is not None:
            bridge.camera_changed.connect(self.on_camera_changed)
            if self.session_view is not None and bridge is not self.session_view.bridge:
                self.session_view.watch(bridge)

    def focus(self, player: PlayerController, bridge: SessionBridge) -> None:
        """Show the camera of `player` in full: its video, controls, drift, models, counts."""
        self.player = player
        if self.session_view is not None:
            self.session_view.focus(bridge)
        self.dashboard.reset()
        self.video.show_message("waiting for the next frame…")
        if player.info is not None:
            self.on_camera_changed(player.session.camera, player.info)
            self.controls.set_source(player.info.frame_count, player.info.fps, player.info.seekable)
        self.controls.set_class_names(player.slot.current.names)
        self.model_label.setText(f"model {player.slot.current.version}")

    def _focused(self) -> bool:
        """Whether the signal in hand comes from the camera in focus."""
        sender = self.sender()
        return sender is None or sender is self.player

    # -- sources ---------------------------------------------------------------------------

    def open_spec(self, spec: str) -> bool:
        return self.player.open(spec)

    def open_file(self, path: Path) -> None:
        self.sources.open_file(path)

    def recent_files(self) -> list[str]:
        return self.sources.recent_files()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt override)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.sources.open_file(Path(urls[0].toLocalFile()))

    # -- playback --------------------------------------------------------------------------

    @Slot()
    def on_play_pause(self) -> None:
        self.player.toggle_pause()
        self.controls.set_paused(self.player.paused)

    @Slot()
    def on_step(self) -> None:
        self.player.step()
        self.controls.set_paused(True)

    @Slot(float)
    def on_confidence_changed(self, conf: float) -> None:
        self.player.set_confidence(conf)
        self.state.setValue("detection/confidence", conf)

    # -- what the player says --------------------------------------------------------------

    @Slot(object)
    def on_source_opened(self, info: SourceInfo) -> None:
        if not self._focused():
            return
        camera = self.player.session.camera
        self.on_camera_changed(camera, info)
        self.controls.set_source(info.frame_count, info.fps, info.seekable)
        self.controls.set_paused(False)
        self.controls.set_class_names(self.player.slot.current.names)
        if camera is not None and camera.detection.confidence is not None:
            self.controls.set_confidence(camera.detection.confidence)  # the camera's own
        self.player.set_confidence(self.controls.confidence.value() / 100)
        current = self.player.slot.current
        self.model_label.setText(f"model {current.version} ({current.precision})")
        self.dashboard.reset()
        if self.session_view is not None:
            self.session_view.set_camera(camera)

    @Slot(object)
    def on_camera_changed(self, camera: Camera | None, info: SourceInfo | None = None) -> None:
        """Show the playing camera's name beside its source (another camera's renaming or
        baseline shows on its own tile)."""
        sender = self.sender()
        if isinstance(sender, SessionBridge) and sender.session is not self.player.session:
            return
        source = (
            info.name if info is not None else self.player.info.name if self.player.info else ""
        )
        name = camera.name if camera is not None else source
        self.setWindowTitle(f"tvdesk — {name}")
        self.source_label.setText(f"camera {name} · {source}" if camera else source)

    @Slot(object)
    def on_result(self, result: FrameResult) -> None:
        if not self._focused():
            return
        self.video.show_frame(
            result.frame.image,
            result.detections,
            result.observations.get(COUNTS),
            predicted=not result.detected,
        )
        self.dashboard.add_result(result)
        self.frames_shown += 1
        s = result.stats
        counts = ", ".join(f"{n} {name}" for name, n in result.detections.counts_by_name().items())
        self.detections_label.setText(counts or "no detections")
        cadence = f" · detecting 1 in {s.detect_every}" if s.detect_every > 1 else ""
        self.rate_label.setText(
            f"{s.fps:.1f} fps · inference {s.inference_ms:.1f} ms{cadence} · dropped {s.dropped}"
        )
        self.model_label.setText(f"model {result.model_version} ({result.precision})")
        self.controls.set_position(result.frame.index, result.frame.timestamp)

    @Slot(object)
    def on_loop_finished(self, outcome: LoopOutcome) -> None:
        if not self._focused():
            return
        if outcome.reason == "failed":
            self.show_error(f"Playback stopped: {outcome.error}")
        elif outcome.reason == "ended":
            self.statusBar().showMessage("End of video", 5000)
            self.controls.set_paused(True)

    @Slot(object)
    def on_source_event(self, event: SourceEvent) -> None:
        if not self._focused():
            return
        if event.kind == "disconnected":
            self.show_error(event.message)
        else:
            self.show_info(event.message)

    @Slot(object)
    def on_swapped(self, event: SwapEvent) -> None:
        if not self._focused():
            return
        if event.accepted:
            self.controls.set_class_names(self.player.slot.current.names)
            self.show_info(
                f"Now running model {event.new_version} (was {event.old_version}); playback goes on"
            )
        else:
            self.show_error(
                f"Model {event.new_version} was not loaded: {event.reason}. "
                f"Model {event.old_version} keeps running."
            )

    @Slot(str)
    def on_player_error(self, message: str) -> None:
        sender = self.sender()
        if isinstance(sender, PlayerController) and sender is not self.player:
            camera = sender.session.camera
            message = f"Camera {camera.name}: {message}" if camera else message
        self.show_error(message)

    @Slot(str)
    def show_error(self, message: str) -> None:
        """A problem, as a sentence that says what to do; never blocks (the log has detail)."""
        logger.warning("shown to the operator: %s", message)
        self.notice.show_error(message)
        self.statusBar().showMessage(message, 10000)

    @Slot(str)
    def show_info(self, message: str) -> None:
        """Information in the notice, or in the status bar while an error holds the notice."""
        logger.info("shown to the operator: %s", message)
        if not self.notice.show_info(message):
            self.statusBar().showMessage(message, INFO_MS)

    @Slot()
    def on_about(self) -> None:
        QMessageBox.about(
            self,
            "About tvdesk",
            "tvdesk — live detection, drift alarms and approve-to-retrain for traffic cameras.",
        )

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._docks_placed:  # dock sizes only take once the window has its size
            self._docks_placed = True
            QTimer.singleShot(0, self._place_docks)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.state.setValue("window/geometry", self.saveGeometry())
        self.state.setValue("window/state", self.saveState())
        self.player.close_source()
        if self.session_view is not None:
            self.session_view.close()
        self.log_view.detach()
        super().closeEvent(event)
