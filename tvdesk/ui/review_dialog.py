"""The label review dialog: the frames a `review` labeler waits on, one by one, with their
proposed boxes. Accept, delete, draw, move, re-class; every edit is saved when the frame is
left; Finish writes the DONE marker, and the waiting retraining job imports the labels.

Everything has a key, so a few hundred frames go by without the mouse (see `KEYS`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tvdesk.retrain.review_folder import ReviewFolder
from tvdesk.ui.review_canvas import BoxCanvasWidget

logger = logging.getLogger(__name__)

MOVE_PX = 4
KEYS = (
    ("Enter / Space", "accept the frame and go to the next"),
    ("→ / ←  (PgDn / PgUp)", "next / previous frame"),
    ("Tab / Shift+Tab", "select the next / previous box"),
    ("Del / Backspace", "delete the selected box"),
    ("1 … 9", "class of the selected box (and of new ones)"),
    ("drag with the mouse", "draw a new box"),
    ("Ins", "new box in the middle"),
    ("Ctrl+arrows", "move the selected box"),
    ("Ctrl+Shift+arrows", "resize the selected box"),
    ("Ctrl+Z", "undo this frame's edits"),
    ("Ctrl+Enter", "finish the review"),
)


class LabelReviewDialog(QDialog):
    """Reviews the frames of `folder`; `names` are the model's class names.

    Signals:
        review_finished(): the DONE marker was written.
    """

    review_finished = Signal()

    def __init__(
        self, folder: ReviewFolder, names: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review labels")
        self.folder = folder
        self.names = list(names)
        self.indices = folder.indices()
        self.position = -1
        self.checked: set[int] = set()
        self.dirty = False
        self.canvas = BoxCanvasWidget()
        self.canvas.names = self.names
        self.canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.canvas.changed.connect(self.on_canvas_changed)
        self.canvas.selection_changed.connect(self.on_selection_changed)
        self.frame_label = QLabel()
        self.progress = QProgressBar(maximum=max(1, len(self.indices)))
        self.box_list = QListWidget(focusPolicy=Qt.FocusPolicy.NoFocus)
        self.box_list.currentRowChanged.connect(self.canvas.select)
        self.class_label = QLabel(wordWrap=True)
        self.finish_button = QPushButton("Finish review")
        self.finish_button.clicked.connect(self.finish)
        self._build()
        self._bind_keys()
        self.resize(1200, 760)
        if self.indices:
            self.go(0)
        else:
            self.frame_label.setText("No frames wait for review in this folder.")

    def _build(self) -> None:
        side = QVBoxLayout()
        side.addWidget(self.frame_label)
        side.addWidget(self.progress)
        side.addWidget(QLabel("Boxes of this frame:"))
        side.addWidget(self.box_list, 1)
        side.addWidget(self.class_label)
        keys = "".join(f"<tr><td><b>{k}</b></td><td>{what}</td></tr>" for k, what in KEYS)
        help_label = QLabel(f"<table cellspacing=2>{keys}</table>", wordWrap=True)
        side.addWidget(help_label)
        buttons = QHBoxLayout()
        for text, slot in (("◀ Previous", self.previous_frame), ("Accept ▶", self.accept_frame)):
            button = QPushButton(text, focusPolicy=Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        side.addLayout(buttons)
        self.finish_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        side.addWidget(self.finish_button)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(340)
        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(panel)

    def _bind_keys(self) -> None:
        """Keys go through an event filter rather than shortcuts: they work wherever the
        focus is in the dialog, and Tab selects boxes instead of moving the focus."""
        c, k = self.canvas, Qt.Key
        ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
        none = Qt.KeyboardModifier.NoModifier
        self.keys: dict[tuple[Qt.Key, Qt.KeyboardModifier], Callable[[], None]] = {}
        for keys, modifiers, action in (
            ((k.Key_Return, k.Key_Enter, k.Key_Space), none, self.accept_frame),
            ((k.Key_Right, k.Key_PageDown), none, self.next_frame),
            ((k.Key_Left, k.Key_PageUp), none, self.previous_frame),
            ((k.Key_Tab,), none, lambda: c.select_next(1)),
            ((k.Key_Backtab,), shift, lambda: c.select_next(-1)),
            ((k.Key_Delete, k.Key_Backspace), none, c.delete_selected),
            ((k.Key_Insert,), none, c.add_centre_box),
            ((k.Key_Z,), ctrl, self.revert_frame),
            ((k.Key_Return, k.Key_Enter), ctrl, self.finish),
        ):
            for key in keys:
                self.keys[(key, modifiers)] = action
        for key, (dx, dy) in {
            k.Key_Right: (MOVE_PX, 0),
            k.Key_Left: (-MOVE_PX, 0),
            k.Key_Down: (0, MOVE_PX),
            k.Key_Up: (0, -MOVE_PX),
        }.items():
            self.keys[(key, ctrl)] = lambda dx=dx, dy=dy: c.nudge(dx, dy)
            self.keys[(key, ctrl | shift)] = lambda dx=dx, dy=dy: c.nudge(dx, dy, grow=True)
        for digit in range(1, min(9, len(self.names)) + 1):
            self.keys[(Qt.Key(k.Key_0 + digit), none)] = lambda d=digit: c.set_selected_class(d - 1)
        for widget in (self, self.canvas):
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.KeyPress:
            return super().eventFilter(watched, event)
        modifiers = event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        action = self.keys.get((Qt.Key(event.key()), modifiers))
        if action is None:
            return super().eventFilter(watched, event)
        action()
        return True

    # -- frames ----------------------------------------------------------------------------

    @property
    def index(self) -> int | None:
        """The frame index (in the stream) shown now."""
        return self.indices[self.position] if 0 <= self.position < len(self.indices) else None

    def go(self, position: int) -> None:
        """Save the frame shown (if edited) and show the one at `position` in the list."""
        if not self.indices:
            return
        self.save_frame()
        self.position = max(0, min(position, len(self.indices) - 1))
        index = self.indices[self.position]
        image = QImage(str(self.folder.image_path(index)))
        if image.isNull():
            logger.warning("review frame %s cannot be read", self.folder.image_path(index))
        self.canvas.show_frame(image, self.folder.read(index))
        self.dirty = False
        self._show_position()

    @Slot()
    def next_frame(self) -> None:
        self.go(self.position + 1)

    @Slot()
    def previous_frame(self) -> None:
        self.go(self.position - 1)

    @Slot()
    def accept_frame(self) -> None:
        """The boxes of this frame are right (as edited): save them and go on."""
        if self.index is None:
            return
        self.dirty = True  # saved even when unchanged: accepting is a decision
        self.checked.add(self.index)
        if self.position == len(self.indices) - 1:
            self.save_frame()
            self._show_position()
        else:
            self.next_frame()

    @Slot()
    def revert_frame(self) -> None:
        if self.index is not None:
            self.canvas.show_frame(self.canvas.image, self.folder.read(self.index))
            self.dirty = False
            self._show_boxes()

    def save_frame(self) -> None:
        if self.dirty and self.index is not None:
            self.folder.write(self.index, self.canvas.boxes)
            self.checked.add(self.index)
            self.dirty = False

    @Slot()
    def finish(self) -> None:
        """Save, write the DONE marker, close: the job imports these labels."""
        self.save_frame()
        self.folder.finish()
        logger.info(
            "review of %s finished: %d of %d frames checked",
            self.folder.folder,
            len(self.checked),
            len(self.indices),
        )
        self.review_finished.emit()
        self.accept()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.save_frame()
        super().closeEvent(event)

    def reject(self) -> None:
        self.save_frame()  # Esc keeps the edits; the review goes on next time
        super().reject()

    # -- the side panel --------------------------------------------------------------------

    @Slot()
    def on_canvas_changed(self) -> None:
        self.dirty = True
        self._show_boxes()

    @Slot(int)
    def on_selection_changed(self, selected: int) -> None:
        self._show_boxes()

    def _show_position(self) -> None:
        self.frame_label.setText(
            f"<b>Frame {self.position + 1} of {len(self.indices)}</b> (stream frame {self.index})"
            f"{' · checked' if self.index in self.checked else ''}"
        )
        self.progress.setValue(len(self.checked))
        self.progress.setFormat(f"{len(self.checked)} of {len(self.indices)} checked")
        self.finish_button.setText(
            f"Finish review ({len(self.checked)}/{len(self.indices)} checked)"
        )
        self._show_boxes()

    def _show_boxes(self) -> None:
        c = self.canvas
        self.box_list.blockSignals(True)
        self.box_list.clear()
        for i, box in enumerate(c.boxes):
            x1, y1, x2, y2 = box.xyxy
            self.box_list.addItem(
                f"{i + 1}. {c.class_name(box.class_id)}  {x2 - x1:.0f}×{y2 - y1:.0f} px"
            )
        self.box_list.setCurrentRow(c.selected)
        self.box_list.blockSignals(False)
        classes = ", ".join(f"{i + 1} {name}" for i, name in enumerate(self.names[:9]))
        self.class_label.setText(f"Classes: {classes}")
