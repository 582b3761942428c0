"""The File menu: open a video file, a webcam, a network stream or the synthetic camera, the
recent files (kept in the UI state), and loading a model file into the player."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QSettings, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from tvdesk.core.sources.webcams import find_webcams
from tvdesk.core.synth.camera import SCENARIOS
from tvdesk.ui.player import PlayerController
from tvdesk.ui.source_dialogs import StreamUrlDialog, WebcamDialog

MAX_RECENT = 8
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov *.m4v *.webm *.mpg *.ts);;All files (*)"


class SourceHost(Protocol):
    """What the File menu needs of its window."""

    player: PlayerController

    def open_spec(self, spec: str) -> bool: ...

    def show_error(self, message: str) -> None: ...

    def close(self) -> bool: ...


class SourceMenu(QObject):
    """Fills `menu` and opens what the operator chooses in the window's player."""

    def __init__(self, window: SourceHost, menu: QMenu, state: QSettings) -> None:
        super().__init__(menu)
        self.window = window
        self.state = state
        self.menu = menu
        self._add("&Open video file…", self.on_open_file, QKeySequence.StandardKey.Open)
        self._add("Open &webcam…", self.on_open_webcam, "Ctrl+Shift+W")
        self._add("Open network &stream…", self.on_open_stream, "Ctrl+U")
        synthetic = menu.addMenu("S&ynthetic camera")
        for name in SCENARIOS:
            self._add(
                name, lambda _=False, n=name: window.open_spec(f"synthetic:{n}"), None, synthetic
            )
        self.recent_menu = menu.addMenu("&Recent files")
        self._refresh_recent()
        menu.addSeparator()
        self._add("Load &model…", self.on_load_model, "Ctrl+M")
        menu.addSeparator()
        self._add("&Quit", window.close, QKeySequence.StandardKey.Quit)

    def _add(self, text: str, slot, shortcut=None, menu: QMenu | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        (menu or self.menu).addAction(action)
        return action

    def _parent(self) -> QWidget | None:
        return self.window if isinstance(self.window, QWidget) else None

    def open_file(self, path: Path) -> None:
        if self.window.open_spec(str(path)):
            self._remember(path)

    @Slot()
    def on_open_file(self) -> None:
        start = str(self.state.value("paths/last_folder", str(Path.home())))
        name, _ = QFileDialog.getOpenFileName(self._parent(), "Open video", start, VIDEO_FILTER)
        if name:
            self.state.setValue("paths/last_folder", str(Path(name).parent))
            self.open_file(Path(name))

    @Slot()
    def on_open_webcam(self) -> None:
        found = find_webcams()
        if not found:
            self.window.show_error(
                "No webcam found. Connect one (and check it is not in use by "
                "another program), then try again."
            )
            return
        dialog = WebcamDialog(found, self._parent())
        if dialog.exec():
            self.window.open_spec(str(dialog.index()))

    @Slot()
    def on_open_stream(self) -> None:
        dialog = StreamUrlDialog(self._parent())
        if dialog.exec():
            self.window.open_spec(dialog.url())

    @Slot()
    def on_load_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self._parent(), "Load ONNX model", "", "ONNX (*.onnx)"
        )
        if name:
            self.window.player.swap_model(Path(name))

    def _remember(self, path: Path) -> None:
        recent = [p for p in self.recent_files() if p != str(path)]
        self.state.setValue("paths/recent", [str(path), *recent][:MAX_RECENT])
        self._refresh_recent()

    def recent_files(self) -> list[str]:
        value = self.state.value("paths/recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self._add(path, lambda _=False, p=path: self.open_file(Path(p)), None, self.recent_menu)
        self.recent_menu.setEnabled(bool(self.recent_files()))
