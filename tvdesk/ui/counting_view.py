"""The counting part of the main window: the Counting toolbar (draw a line, draw a zone, edit,
delete), the video's shape editor wired to the live session (every change is stored with the
playing camera and counted from the next frame), and the Counts dock."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QToolBar, QWidget

from tvdesk.core.store import Camera
from tvdesk.core.store.counting_shape import LINE, ZONE
from tvdesk.ui.counts_panel import CountsPanel
from tvdesk.ui.session_bridge import SessionBridge
from tvdesk.ui.shape_editor import EDIT, OFF
from tvdesk.ui.video_widget import VideoWidget

TOOLS = (
    (
        LINE,
        "Draw &line",
        "L",
        "Press at the line's start and release at its end (or click both); "
        "vehicles crossing to the arrow's side count as in. Esc cancels",
    ),
    (
        ZONE,
        "Draw &zone",
        "Z",
        "Click each corner; double-click, Enter or a click on the first "
        "corner closes the zone. Esc cancels",
    ),
    (EDIT, "&Edit", "E", "Drag an end or a corner to move it; click a line or zone to select it"),
)


class CountingHost(Protocol):
    """What the counting widgets need of the window that holds them."""

    video: VideoWidget

    def addToolBar(self, toolbar: QToolBar) -> None: ...  # noqa: N802 (QMainWindow's)

    def add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget: ...

    def show_info(self, message: str) -> None: ...

    def show_error(self, message: str) -> None: ...


class CountingView(QObject):
    """Adds the Counting toolbar and the Counts dock to `window`; connects the editor."""

    def __init__(self, window: CountingHost, bridge: SessionBridge) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.window = window
        self.bridge = bridge
        self.editor = window.video.editor
        self.panel = CountsPanel(bridge.session.db_path)
        self.dock = window.add_dock("Counts", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.toolbar = QToolBar("Counting")
        self.toolbar.setObjectName("toolbar-counting")
        self.tools = self._build_tools()
        window.addToolBar(self.toolbar)
        self._connect()

    def _build_tools(self) -> dict[str, QAction]:
        group = QActionGroup(self)
        group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        tools = {}
        for mode, text, key, tip in TOOLS:
            action = QAction(text, self, checkable=True, shortcut=QKeySequence(key))
            action.setToolTip(f"{tip} ({key})")
            action.toggled.connect(lambda on, m=mode: self.on_tool_toggled(m, on))
            group.addAction(action)
            self.toolbar.addAction(action)
            tools[mode] = action
        self.delete_action = QAction("&Delete", self)
        self.delete_action.setToolTip("Delete the selected line or zone (its counts are kept)")
        self.delete_action.triggered.connect(self.on_delete_clicked)
        self.toolbar.addAction(self.delete_action)
        return tools

    def _connect(self) -> None:
        e = self.editor
        e.line_drawn.connect(lambda points: self.bridge.add_shape(LINE, points))
        e.zone_drawn.connect(lambda points: self.bridge.add_shape(ZONE, points))
        e.shape_moved.connect(lambda *moved: self.bridge.move_shape(*moved))
        e.delete_requested.connect(lambda shape: self.bridge.delete_shape(shape))
        e.mode_changed.connect(self.on_mode_changed)
        self.bridge.shapes_changed.connect(self.on_shapes_changed)
        self.panel.error.connect(self.window.show_error)
        self.panel.info.connect(self.window.show_info)

    def watch(self, bridge: SessionBridge) -> None:
        """Another camera's session: its shapes show when it is the one in focus."""
        bridge.shapes_changed.connect(self.on_shapes_changed)

    def focus(self, bridge: SessionBridge) -> None:
        """Draw on, and show the counts of, the camera of `bridge` from now on."""
        self.bridge = bridge
        self.set_camera(bridge.session.camera)

    @Slot(object)
    def on_shapes_changed(self, shapes: object) -> None:
        if self.sender() is self.bridge:
            self.editor.set_shapes(shapes)

    def set_camera(self, camera: Camera | None) -> None:
        """The playing camera changed: show its lines, zones and counts."""
        self.editor.set_shapes([])
        self.panel.set_camera(camera.id if camera else None, camera.name if camera else "")
        if camera is not None:
            self.bridge.load_shapes()

    @Slot()
    def on_tool_toggled(self, mode: str, on: bool) -> None:
        if on:
            self.editor.set_mode(mode)
            self.window.video.setFocus()
        elif self.editor.mode == mode:
            self.editor.set_mode(OFF)

    @Slot(str)
    def on_mode_changed(self, mode: str) -> None:
        """The editor left a mode by itself (Esc): the toolbar follows."""
        for name, action in self.tools.items():
            if action.isChecked() != (name == mode):
                action.setChecked(name == mode)

    @Slot()
    def on_delete_clicked(self) -> None:
        if self.editor.selected is None:
            self.window.show_info("Select a line or zone first: Edit, then click it.")
            return
        self.bridge.delete_shape(self.editor.selected)

    def close(self) -> None:
        self.panel.close_store()
