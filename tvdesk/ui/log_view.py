"""Where the app's log goes: a rotating file in the app data folder (the full detail) and the
log view dock (recent lines). Records come from any thread; the view takes them on a timer,
so a burst of log lines never floods the GUI thread."""

from __future__ import annotations

import logging
import threading
from collections import deque
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LOG_FILE = "logs/tvdesk.log"
FILE_BYTES = 2 * 1024 * 1024
FILE_BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
VIEW_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
VIEW_LINES = 5000
VIEW_POLL_MS = 250


def install_file_log(data_dir: Path, level: int = logging.INFO) -> Path:
    """Send the root logger's records to `data_dir`/logs/tvdesk.log (rotated); its path."""
    path = data_dir / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=FILE_BYTES, backupCount=FILE_BACKUPS)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    return path


class LogBuffer(logging.Handler):
    """Keeps the newest formatted records, from any thread, until the view takes them."""

    def __init__(self, capacity: int = VIEW_LINES, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(VIEW_FORMAT, "%H:%M:%S"))
        self._lines: deque[str] = deque(maxlen=capacity)
        self._lock_lines = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._lock_lines:
            self._lines.append(line)

    def take(self) -> list[str]:
        with self._lock_lines:
            lines = list(self._lines)
            self._lines.clear()
        return lines


class LogViewWidget(QPlainTextEdit):
    """The newest log lines (read-only), fed from a `LogBuffer` on the root logger."""

    def __init__(self, log_file: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(VIEW_LINES)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText(
            f"Log messages appear here; the full log is in {log_file}" if log_file else ""
        )
        self.buffer = LogBuffer()
        logging.getLogger().addHandler(self.buffer)
        self.timer = QTimer(self, interval=VIEW_POLL_MS)
        self.timer.timeout.connect(self.on_tick)
        self.timer.start()

    @Slot()
    def on_tick(self) -> None:
        lines = self.buffer.take()
        if lines:
            self.appendPlainText("\n".join(lines))

    def detach(self) -> None:
        """Stop collecting (the window closes)."""
        self.timer.stop()
        logging.getLogger().removeHandler(self.buffer)
