"""Start the desktop app: settings, the detector, the player, the window, the first source."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tvdesk.config import Settings, load_settings
from tvdesk.core.detector import DetectorError, DetectorSlot, OnnxDetector
from tvdesk.ui.main_window import MainWindow
from tvdesk.ui.player import PlayerController

logger = logging.getLogger(__name__)


def build_window(settings: Settings, model: Path | None = None) -> MainWindow:
    """The main window with its player on `model` (default: the settings' model)."""
    detector = OnnxDetector(
        model or settings.model_path,
        conf=settings.confidence,
        iou=settings.iou,
        threads=settings.inference_threads,
    )
    return MainWindow(PlayerController(DetectorSlot(detector), settings))


def run_app(
    model: Path | None = None,
    scenario: str | None = None,
    source: str | None = None,
    quit_after: float | None = None,
) -> int:
    """Open the main window on `source` (default: the synthetic camera) until it is closed."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tvdesk")
    app.setOrganizationName("tvdesk")
    settings = load_settings()
    try:
        window = build_window(settings, model)
    except DetectorError as exc:
        QMessageBox.critical(None, "tvdesk cannot start", str(exc))
        raise
    window.show()
    window.open_spec(source or f"synthetic:{scenario or settings.scenario}")
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    try:
        return app.exec()
    finally:
        window.player.close_source()
        logger.info("showed %d frames", window.frames_shown)
