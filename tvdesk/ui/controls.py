"""The control bar under the video: playback (play/pause, step, seek) and detection settings
(confidence threshold, class filter). Widgets only; the player controller does the work."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QWidget,
)


def format_time(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


class PlaybackBar(QWidget):
    """Play/pause, step, seek slider and position.

    Signals:
        play_pause_clicked, step_clicked: the buttons were pressed.
        seek_requested(int): the operator released the seek slider on this frame index.
        confidence_changed(float): the confidence slider moved (0..1).
        classes_changed(object): the class filter changed; a tuple of ids, or None for all.
    """

    play_pause_clicked = Signal()
    step_clicked = Signal()
    seek_requested = Signal(int)
    confidence_changed = Signal(float)
    classes_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QToolButton(text="Pause")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_pause_clicked)
        self.step_button = QToolButton(text="Step")
        self.step_button.setToolTip("Next frame (.)")
        self.step_button.clicked.connect(self.step_clicked)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setEnabled(False)
        self.seek.sliderReleased.connect(lambda: self.seek_requested.emit(self.seek.value()))
        self.position = QLabel("--:--")
        self.confidence = QSlider(Qt.Orientation.Horizontal)
        self.confidence.setRange(5, 95)
        self.confidence.setFixedWidth(140)
        self.confidence.valueChanged.connect(self._on_confidence)
        self.confidence_label = QLabel()
        self.class_button = QToolButton(text="All classes")
        self.class_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.class_menu = QMenu(self)
        self.class_button.setMenu(self.class_menu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.play_button, self.step_button):
            layout.addWidget(widget)
        layout.addWidget(self.seek, 1)
        layout.addWidget(self.position)
        layout.addSpacing(16)
        layout.addWidget(QLabel("Confidence"))
        layout.addWidget(self.confidence)
        layout.addWidget(self.confidence_label)
        layout.addWidget(self.class_button)
        self._fps = 0.0

    def set_confidence(self, conf: float) -> None:
        self.confidence.setValue(round(conf * 100))
        self.confidence_label.setText(f"{conf:.2f}")

    def _on_confidence(self, value: int) -> None:
        self.confidence_label.setText(f"{value / 100:.2f}")
        self.confidence_changed.emit(value / 100)

    def set_class_names(self, names: Sequence[str]) -> None:
        """One checkable entry per class of the running model, all checked."""
        self.class_menu.clear()
        for class_id, name in enumerate(names):
            action = QAction(name, self.class_menu, checkable=True, checked=True)
            action.setData(class_id)
            action.toggled.connect(self._on_class_toggled)
            self.class_menu.addAction(action)
        self.class_button.setText("All classes")

    def _on_class_toggled(self) -> None:
        actions = self.class_menu.actions()
        chosen = tuple(a.data() for a in actions if a.isChecked())
        everything = len(chosen) == len(actions)
        self.class_button.setText("All classes" if everything else f"{len(chosen)} classes")
        self.classes_changed.emit(None if everything else chosen)

    def set_source(self, frame_count: int | None, fps: float | None, seekable: bool) -> None:
        self._fps = fps or 0.0
        self.seek.setEnabled(seekable and bool(frame_count))
        self.seek.setRange(0, max(0, (frame_count or 1) - 1))
        self.seek.setValue(0)

    def set_paused(self, paused: bool) -> None:
        self.play_button.setText("Play" if paused else "Pause")

    def set_position(self, index: int, timestamp: float) -> None:
        if not self.seek.isSliderDown():
            self.seek.setValue(index)
        total = (self.seek.maximum() + 1) / self._fps if self._fps and self.seek.isEnabled() else 0
        self.position.setText(
            format_time(timestamp) + (f" / {format_time(total)}" if total else "")
        )
