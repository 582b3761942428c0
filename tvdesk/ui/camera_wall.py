"""The camera wall: a grid (1, 2x2, 3x3 or 4x4) of live tiles, one per camera, each with its
boxes, name, model version, detection rate and drift state (a coloured edge in alarm).

A tile paints the newest result its player hands it, only while it is visible (a hidden
wall costs nothing but the detections the cameras' drift needs anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.drift.status import ALARM, LEARNING
from tvdesk.core.session.counting import COUNTS
from tvdesk.core.session.frame_loop import FrameResult
from tvdesk.core.session.live import DRIFT
from tvdesk.core.sources import SourceEvent
from tvdesk.ui.player import PlayerController
from tvdesk.ui.session_bridge import SessionBridge
from tvdesk.ui.video_widget import VideoWidget

GRIDS = (1, 2, 3, 4)  # tiles per side
EDGE = {  # drift state -> tile edge colour
    ALARM: "#ed333b",
    LEARNING: "#f5c211",
    "watching": "#2ec27e",
    "lost": "#9a9da5",
}


@dataclass(eq=False)
class WallCamera:
    """One camera of the wall: its player (frame loop, session) and its session's bridge."""

    player: PlayerController
    bridge: SessionBridge
    spec: str  # what opened it (shown masked by the source itself)

    @property
    def name(self) -> str:
        camera = self.player.session.camera
        return camera.name if camera is not None else self.spec


class CameraTileWidget(QFrame):
    """One camera's live tile.

    Signals:
        focus_requested(WallCamera): double-clicked: show this camera in full.
        remove_requested(WallCamera): the operator asked to take it off the wall.
        move_requested(WallCamera, int): move it one place earlier (-1) or later (+1).
    """

    focus_requested = Signal(object)
    remove_requested = Signal(object)
    move_requested = Signal(object, int)

    def __init__(self, camera: WallCamera, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera = camera
        self.state = "watching"
        self.video = VideoWidget(self)
        self.video.show_message(f"{camera.name}: starting…")
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #e0e0e0; padding: 2px 4px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(0)
        layout.addWidget(self.video, 1)
        layout.addWidget(self.caption)
        self._set_edge("watching")
        camera.player.result_ready.connect(self.on_result)
        camera.player.source_event.connect(self.on_source_event)
        camera.player.error.connect(self.on_error)

    @Slot(object)
    def on_result(self, result: FrameResult) -> None:
        status = result.observations.get(DRIFT)  # none on a frame whose boxes are predicted
        state = getattr(status, "state", "watching" if result.detected else self.state)
        if state != self.state:
            self._set_edge(state)
        if not self.isVisible():
            return  # nothing to paint: the newest result is painted when shown again
        self.video.show_frame(
            result.frame.image,
            result.detections,
            result.observations.get(COUNTS),
            predicted=not result.detected,
        )
        self.caption.setText(
            f"<b>{self.camera.name}</b> · {result.model_version} · "
            f"{result.stats.fps:.1f} fps · {_state_words(state)}"
        )

    @Slot(object)
    def on_source_event(self, event: SourceEvent) -> None:
        if event.kind == "disconnected":
            self._set_edge("lost")
            self.video.show_message(f"{self.camera.name}: {event.message}")
        elif event.kind == "reconnected":
            self._set_edge("watching")

    @Slot(str)
    def on_error(self, message: str) -> None:
        self._set_edge("lost")
        self.video.show_message(f"{self.camera.name}: {message}")

    def _set_edge(self, state: str) -> None:
        self.state = state
        self.setStyleSheet(
            f"CameraTileWidget {{ background: #111318; border: 3px solid "
            f"{EDGE.get(state, EDGE['watching'])}; }}"
        )

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.focus_requested.emit(self.camera)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 (Qt override)
        menu = QMenu(self)
        menu.addAction("Show in full", lambda: self.focus_requested.emit(self.camera))
        menu.addAction("Move earlier", lambda: self.move_requested.emit(self.camera, -1))
        menu.addAction("Move later", lambda: self.move_requested.emit(self.camera, 1))
        menu.addSeparator()
        menu.addAction("Remove from the wall…", lambda: self.remove_requested.emit(self.camera))
        menu.exec(event.globalPos())


class CameraWallWidget(QWidget):
    """The grid of tiles, in the cameras' order, with its size and an Add button.

    Signals:
        add_requested(): the operator wants to add a camera.
        grid_changed(int): the tiles per side chosen.
    """

    add_requested = Signal()
    grid_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: list[CameraTileWidget] = []
        self.side = 2
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.size_box = QComboBox()
        self.size_box.addItems([f"{n} x {n}" if n > 1 else "1" for n in GRIDS])
        self.size_box.setCurrentIndex(GRIDS.index(self.side))
        self.size_box.currentIndexChanged.connect(lambda i: self.set_side(GRIDS[i]))
        add = QPushButton("&Add camera…")
        add.clicked.connect(self.add_requested)
        self.hint = QLabel("Double-click a camera to see it in full; Esc comes back here.")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Grid:"))
        bar.addWidget(self.size_box)
        bar.addWidget(add)
        bar.addWidget(self.hint, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addLayout(self.grid, 1)

    def set_side(self, side: int) -> None:
        """Show `side` x `side` tiles (the first cameras of the order)."""
        if side not in GRIDS:
            raise ValueError(f"a wall is 1, 2x2, 3x3 or 4x4 tiles, not {side}x{side}")
        self.side = side
        self.size_box.blockSignals(True)
        self.size_box.setCurrentIndex(GRIDS.index(side))
        self.size_box.blockSignals(False)
        self._lay_out()
        self.grid_changed.emit(side)

    def set_tiles(self, tiles: list[CameraTileWidget]) -> None:
        """The tiles, in order (the wall shows as many as its grid holds)."""
        for tile in self.tiles:
            if tile not in tiles:
                self.grid.removeWidget(tile)
                tile.setParent(None)
        self.tiles = list(tiles)
        self._lay_out()

    def _lay_out(self) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
        for place, tile in enumerate(self.tiles):
            shown = place < self.side * self.side
            tile.setVisible(shown)
            if shown:
                self.grid.addWidget(tile, place // self.side, place % self.side)
        for i in range(GRIDS[-1]):
            stretch = 1 if i < self.side else 0
            self.grid.setRowStretch(i, stretch)
            self.grid.setColumnStretch(i, stretch)


def _state_words(state: str) -> str:
    return {ALARM: "DRIFT ALARM", LEARNING: "learning its normal"}.get(state, "no drift")
