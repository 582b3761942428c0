"""Start the desktop app: settings, the log file, the detector on the active model, the live
session, the player, the window, the first source."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from jobs.retraining import approve_retraining
from tvdesk.config import Settings, load_settings
from tvdesk.core.detector import DetectorError, DetectorSlot, OnnxDetector
from tvdesk.core.registry import Registry, RegistryError
from tvdesk.core.session.live import LiveSession
from tvdesk.core.sources import VideoSource
from tvdesk.core.store import Store, StoreError, database_path
from tvdesk.ui.background import wait_for_background
from tvdesk.ui.log_view import install_file_log
from tvdesk.ui.main_window import MainWindow
from tvdesk.ui.player import PlayerController
from tvdesk.ui.session_bridge import SessionBridge

logger = logging.getLogger(__name__)


def active_model_path(settings: Settings) -> Path:
    """The registry's active version (the bundled model becomes version 1 on first use)."""
    with Store(database_path(settings.data_dir)) as store:
        return Registry(store, settings.data_dir).active(settings.model_path).path


def build_window(
    settings: Settings,
    model: Path | None = None,
    *,
    log_file: Path | None = None,
    **session_options: Any,
) -> MainWindow:
    """The main window with its player and live session on `model` (default: the active one).

    `session_options` go to `LiveSession` (approve_fn, poll_s...; retrain settings and
    auto-approve default to the settings file's); approving
    queues on the settings' queue and starts a local worker when none runs.
    """
    detector = OnnxDetector(
        model or active_model_path(settings),
        conf=settings.confidence,
        iou=settings.iou,
        threads=settings.inference_threads,
    )
    slot = DetectorSlot(detector)
    session_options.setdefault("approve_fn", approve_retraining)
    session_options.setdefault("retrain", settings.retrain)
    session_options.setdefault("auto_approve", settings.auto_approve)
    session = LiveSession(slot, data_dir=settings.data_dir, **session_options)
    player = PlayerController(slot, settings, session)
    return MainWindow(player, SessionBridge(session), log_file)


def close_window(window: MainWindow) -> None:
    """Stop playback, let background calls finish, end the session."""
    window.player.close_source()
    wait_for_background()
    if window.player.session is not None:
        window.player.session.close()


def run_app(
    model: Path | None = None,
    scenario: str | None = None,
    source: str | None = None,
    quit_after: float | None = None,
    *,
    video: VideoSource | None = None,
    **session_options: Any,
) -> int:
    """Open the main window on `source` (default: the synthetic camera), or on an already
    opened `video`, until it is closed; `session_options` go to `LiveSession`."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tvdesk")
    app.setOrganizationName("tvdesk")
    settings = load_settings()
    log_file = install_file_log(settings.data_dir)
    try:
        window = build_window(settings, model, log_file=log_file, **session_options)
    except (DetectorError, RegistryError, StoreError) as exc:
        logger.exception("tvdesk cannot start")
        QMessageBox.critical(None, "tvdesk cannot start", f"{exc}\n\nDetails: {log_file}")
        raise
    window.show()
    if video is not None:
        window.player.play(video)
    else:
        window.open_spec(source or f"synthetic:{scenario or settings.scenario}")
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    try:
        return app.exec()
    finally:
        close_window(window)
        logger.info("showed %d frames", window.frames_shown)
