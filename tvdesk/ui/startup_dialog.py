"""The dialog that says why the app cannot start: modal for a person, and closed by itself at
the `--quit-after` deadline, so that smoke tests, screenshots and CI never hang on it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

logger = logging.getLogger(__name__)

TITLE = "tvdesk cannot start"


def show_startup_error(
    message: str, log_file: Path | None = None, close_after: float | None = None
) -> None:
    """Show `message` (and where the log is) until the operator closes it, or for
    `close_after` seconds at most."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tvdesk")
    details = f"\n\nDetails: {log_file}" if log_file else ""
    box = QMessageBox(QMessageBox.Icon.Critical, TITLE, f"{message}{details}")
    if close_after is not None:
        QTimer.singleShot(int(max(0.0, close_after) * 1000), box, box.reject)
    logger.error("%s: %s", TITLE, message)
    box.exec()
