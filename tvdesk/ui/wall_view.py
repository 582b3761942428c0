"""The camera wall's part of the main window: the wall page beside the camera in focus (its
full view, as before), the alarm list of every camera, the View menu's wall entries, and the
cameras themselves (added, removed, reordered; the wall's cameras and grid are remembered).

Every camera has its own player and live session; they all detect through the window's one
`DetectionEngine`. Double-click a tile to see its camera in full; Esc comes back to the wall.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QSettings, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.session.events import AlarmRaised
from tvdesk.core.sources import SourceError
from tvdesk.core.sources.stream import mask_url
from tvdesk.core.store.job import JobState
from tvdesk.ui.alarm_list import AlarmListWidget
from tvdesk.ui.camera_wall import CameraTileWidget, CameraWallWidget, WallCamera
from tvdesk.ui.player import PlayerController
from tvdesk.ui.session_bridge import SessionBridge

logger = logging.getLogger(__name__)

MakeCamera = Callable[[str], WallCamera]  # a source spec -> a playing camera


class WallHost(Protocol):
    """What the wall needs from the main window."""

    notice: QWidget
    view_menu: QMenu

    def centralWidget(self) -> QWidget: ...  # noqa: N802 (QMainWindow's)

    def setCentralWidget(self, widget: QWidget) -> None: ...  # noqa: N802

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget: ...

    def watch(self, player: PlayerController, bridge: SessionBridge | None) -> None: ...

    def focus(self, player: PlayerController, bridge: SessionBridge) -> None: ...

    def show_error(self, message: str) -> None: ...

    def show_info(self, message: str) -> None: ...


class WallView(QObject):
    """The wall of `window`, starting with its first camera `first`."""

    def __init__(
        self, window: WallHost, first: WallCamera, make_camera: MakeCamera, state: QSettings
    ) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.window = window
        self.make_camera = make_camera
        self.state = state
        self.cameras: list[WallCamera] = []
        self.tiles: dict[int, CameraTileWidget] = {}
        self.wall = CameraWallWidget()
        self.alarms = AlarmListWidget()
        self.stack = self._build_pages()
        self.dock = window.add_dock("Alarms", self.alarms, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._build_menu()
        self._connect()
        self.focused = first
        self._adopt(first)
        self.wall.set_side(int(state.value("wall/side", 2)))

    def _build_pages(self) -> QStackedWidget:
        focus_page = self.window.centralWidget()
        focus_page.layout().removeWidget(self.window.notice)
        stack = QStackedWidget()
        stack.addWidget(focus_page)
        stack.addWidget(self.wall)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.window.notice)
        layout.addWidget(stack, 1)
        self.window.setCentralWidget(holder)
        return stack

    def _build_menu(self) -> None:
        menu = self.window.view_menu
        self.wall_action = QAction("Camera &wall", self, checkable=True, shortcut="Ctrl+Shift+A")
        self.wall_action.toggled.connect(self.on_wall_toggled)
        add = QAction("&Add a camera to the wall…", self, shortcut="Ctrl+Shift+N")
        add.triggered.connect(self.on_add_requested)
        menu.addActions([self.wall_action, add])
        self.back = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.stack)
        self.back.activated.connect(self.show_wall)

    def _connect(self) -> None:
        self.wall.add_requested.connect(self.on_add_requested)
        self.wall.grid_changed.connect(lambda side: self.state.setValue("wall/side", side))
        self.alarms.show_requested.connect(self.on_show_alarm)
        self.alarms.approve_requested.connect(lambda camera, eid: camera.bridge.approve(eid))
        self.alarms.dismiss_requested.connect(lambda camera, eid: camera.bridge.dismiss(eid))

    # -- the cameras -------------------------------------------------------------------------

    @property
    def showing_wall(self) -> bool:
        return self.stack.currentWidget() is self.wall

    def add_camera(self, spec: str) -> WallCamera | None:
        """Open `spec` as one more camera of the wall; None (and a notice) if it cannot."""
        try:
            camera = self.make_camera(spec)
        except (SourceError, OSError, ValueError, RuntimeError) as exc:
            self.window.show_error(f"{mask_url(spec)} cannot be added to the wall: {exc}")
            return None
        shown = {c.player.session.camera.id for c in self.cameras if c.player.session.camera}
        added = camera.player.session.camera
        if added is not None and added.id in shown:
            camera.player.close_source()
            camera.player.session.close()
            self.window.show_info(f"Camera {added.name} is on the wall already.")
            return None
        self.window.watch(camera.player, camera.bridge)
        self._adopt(camera)
        self._save()
        return camera

    def restore(self) -> None:
        """Add the cameras the wall had when the app was last closed."""
        for spec in self.state.value("wall/cameras", []) or []:
            if spec not in {c.spec for c in self.cameras}:
                self.add_camera(str(spec))

    def remove(self, camera: WallCamera, ask: bool = True) -> bool:
        """Take `camera` off the wall (asking first while a retraining of it runs)."""
        if camera is self.focused or len(self.cameras) == 1:
            self.window.show_info("The camera in focus stays: focus another one first.")
            return False
        if ask and self._job_running(camera) and not self._confirm_removal(camera):
            return False
        self.cameras.remove(camera)
        self.alarms.forget(camera)
        tile = self.tiles.pop(id(camera))
        self.wall.set_tiles([self.tiles[id(c)] for c in self.cameras])
        tile.deleteLater()
        camera.player.close_source()
        camera.player.session.close()
        self._save()
        return True

    def move(self, camera: WallCamera, delta: int) -> None:
        place = self.cameras.index(camera)
        target = min(max(place + delta, 0), len(self.cameras) - 1)
        self.cameras.insert(target, self.cameras.pop(place))
        self.wall.set_tiles([self.tiles[id(c)] for c in self.cameras])
        self._save()

    def close_sources(self) -> None:
        """Stop every camera's playback (the window is closing)."""
        for camera in self.cameras:
            camera.player.close_source()

    def close_sessions(self) -> None:
        for camera in self.cameras:
            camera.player.session.close()

    # -- what the operator does -----------------------------------------------------------

    @Slot()
    def show_wall(self) -> None:
        self.stack.setCurrentWidget(self.wall)
        self.wall_action.setChecked(True)

    def show_focus(self, camera: WallCamera) -> None:
        if camera is not self.focused:
            self.focused = camera
            self.window.focus(camera.player, camera.bridge)
        self.stack.setCurrentIndex(0)
        self.wall_action.setChecked(False)

    @Slot(bool)
    def on_wall_toggled(self, on: bool) -> None:
        if on and not self.showing_wall:
            self.show_wall()
        elif not on and self.showing_wall:
            self.show_focus(self.focused)

    @Slot()
    def on_add_requested(self) -> None:
        spec, ok = QInputDialog.getText(
            self.stack,
            "Add a camera to the wall",
            "A video file, a folder of images, a webcam index, a stream or snapshot URL, or "
            "synthetic[:SCENARIO]:",
        )
        if ok and spec.strip() and self.add_camera(spec.strip()) is not None:
            self.show_wall()

    @Slot(object, object)
    def on_show_alarm(self, camera: WallCamera, alarm: AlarmRaised) -> None:
        self.show_focus(camera)
        session_view = getattr(self.window, "session_view", None)
        if session_view is not None:
            session_view.show_alarm(alarm)

    # -- plumbing --------------------------------------------------------------------------

    def _adopt(self, camera: WallCamera) -> None:
        self.cameras.append(camera)
        tile = CameraTileWidget(camera)
        tile.focus_requested.connect(self.show_focus)
        tile.remove_requested.connect(self.remove)
        tile.move_requested.connect(self.move)
        self.tiles[id(camera)] = tile
        self.alarms.watch(camera)
        self.wall.set_tiles([self.tiles[id(c)] for c in self.cameras])

    def _save(self) -> None:
        """The wall's cameras after the first, by what opened them; a URL with a password is
        not written to disk (it would have to be typed again)."""
        specs = [c.spec for c in self.cameras[1:] if mask_url(c.spec) == c.spec]
        self.state.setValue("wall/cameras", specs)

    def _job_running(self, camera: WallCamera) -> bool:
        store, current = camera.player.session.store, camera.player.session.camera
        active = store.jobs.all(JobState.QUEUED) + store.jobs.all(JobState.RUNNING)
        return current is not None and any(
            job.params.get("camera_id") == current.id for job in active
        )

    def _confirm_removal(self, camera: WallCamera) -> bool:
        answer = QMessageBox.question(
            self.stack,
            "Remove the camera?",
            f"A retraining of camera {camera.name} is queued or running. Remove the camera "
            "from the wall anyway? (The job goes on; its new model will be used the next time "
            "the camera plays.)",
        )
        return answer == QMessageBox.StandardButton.Yes
