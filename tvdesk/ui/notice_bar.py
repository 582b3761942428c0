"""A non-blocking notice above the video: a short sentence, coloured by how much it matters,
that never stops playback. Information fades after a while; an error stays until closed or
replaced by another error (information that comes meanwhile does not hide it: `show_info`
says so, and the window shows it in the status bar). The full detail is in the log."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

INFO_MS = 8000
STYLES = {
    "info": "background: #e8f1fc; border: 1px solid #3584e4;",
    "error": "background: #fde8e8; border: 1px solid #c01c28;",
}


class NoticeBar(QFrame):
    """One notice at a time.

    Signals:
        log_requested(): the operator asked for the details (the log view).
    """

    log_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel(wordWrap=True)
        self.text.setStyleSheet("border: none; color: #241f31;")
        self.details = QToolButton(text="Details…")
        self.details.clicked.connect(self.log_requested)
        self.close_button = QToolButton(text="✕")
        self.close_button.setToolTip("Close this notice")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.close_button)
        self.level = "info"
        self._timer = QTimer(self, singleShot=True, interval=INFO_MS)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_info(self, message: str) -> bool:
        """Show `message` for INFO_MS; False, showing nothing, while an error is up."""
        if self.holds_error:
            return False
        self._show(message, "info")
        self._timer.start()
        return True

    @property
    def holds_error(self) -> bool:
        """An error is up that the operator has not closed."""
        return self.level == "error" and not self.isHidden()

    @Slot(str)
    def show_error(self, message: str) -> None:
        self._show(message, "error")
        self._timer.stop()

    def _show(self, message: str, level: str) -> None:
        self.level = level
        self.setStyleSheet(f"NoticeBar {{ {STYLES[level]} border-radius: 4px; }}")
        self.text.setText(message)
        self.details.setVisible(level == "error")
        self.show()
