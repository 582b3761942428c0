"""Start the desktop app: the log file, the live session on the first camera's model, the
player, the window, the first source."""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tvdesk.config import Settings
from tvdesk.core.detector import DetectorError
from tvdesk.core.free_space import DiskSpaceError
from tvdesk.core.registry import RegistryError
from tvdesk.core.session.approver import Approver
from tvdesk.core.session.engine import DetectionEngine
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import SourceError, SourceInfo, VideoSource, open_source
from tvdesk.core.store import StoreError
from tvdesk.ui.background import wait_for_background
from tvdesk.ui.camera_wall import WallCamera
from tvdesk.ui.gui_thread_gc import GuiThreadGarbageCollection
from tvdesk.ui.log_view import install_file_log
from tvdesk.ui.main_window import MainWindow
from tvdesk.ui.player import PlayerController
from tvdesk.ui.session_bridge import SessionBridge
from tvdesk.ui.startup_dialog import show_startup_error
from tvdesk.ui.wall_view import WallView

logger = logging.getLogger(__name__)

START_ERRORS = (
    DetectorError,
    RegistryError,
    StoreError,
    SourceError,
    DiskSpaceError,
    sqlite3.DatabaseError,
)


def build_window(
    settings: Settings,
    approver: Approver | None = None,
    info: SourceInfo | None = None,
    *,
    model: Path | None = None,
    log_file: Path | None = None,
    **session_options: Any,
) -> MainWindow:
    """The main window with its player and live session; the detector starts on the version
    of `info`'s camera (default: the synthetic camera), or on `model` for every camera.
    `session_options` go to `LiveSession` (auto_approve, drift_config, poll_s...)."""
    info = info or _synthetic_info(settings)
    engine = DetectionEngine()  # shared by every camera the wall will play

    def open_camera(spec: str, info: SourceInfo | None = None) -> tuple[PlayerController, Any]:
        source = None
        if info is None:
            source = open_source(
                spec,
                loop=True,  # a file on the wall plays on, like a camera
                scenario=settings.scenario,
                synthetic_fps=settings.synthetic_fps,
            )
            info = source.info
        try:
            session = start_session(
                settings,
                info,
                model=model,
                approver=approver,
                engine=engine,
                time_int8_in_background=True,  # the window is not held by a first timing
                **session_options,
            )
        except BaseException:
            if source is not None:
                source.close()
            raise
        player = PlayerController(session)
        if source is not None:
            player.play(source)
        return player, SessionBridge(session)

    def make_camera(spec: str) -> WallCamera:
        return WallCamera(*open_camera(spec), spec)

    player, bridge = open_camera(info.name, info)
    window = MainWindow(player, bridge, log_file)
    window.wall_view = WallView(
        window, WallCamera(player, bridge, info.name), make_camera, window.state
    )
    return window


def close_window(window: MainWindow) -> None:
    """Stop every camera's playback, let background calls finish, end the sessions."""
    window.wall_view.close_sources()
    wait_for_background()
    window.wall_view.close_sessions()


def run_app(
    settings: Settings,
    approver: Approver | None = None,
    *,
    model: Path | None = None,
    scenario: str | None = None,
    source: str | None = None,
    quit_after: float | None = None,
    video: VideoSource | None = None,
    **session_options: Any,
) -> int:
    """Open the main window on `source` (default: the synthetic camera), or on an already
    opened `video`, until it is closed; `session_options` go to `LiveSession`. When it cannot
    start, a dialog says why (closed by itself at the `quit_after` deadline) and the error is
    raised again."""
    started = time.monotonic()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tvdesk")
    app.setOrganizationName("tvdesk")
    if scenario:
        settings = replace(settings, scenario=scenario)
    log_file = install_file_log(settings.data_dir)
    problem = ""
    try:
        video = video or open_source(
            source or f"synthetic:{settings.scenario}",
            scenario=settings.scenario,
            synthetic_fps=settings.synthetic_fps,
        )
    except SourceError as exc:
        problem = str(exc)  # shown in the window, which opens on the synthetic camera
    try:
        info = video.info if video is not None else None
        window = build_window(
            settings, approver, info, model=model, log_file=log_file, **session_options
        )
    except START_ERRORS as exc:
        logger.exception("tvdesk cannot start")
        if video is not None:
            video.close()
        left = quit_after - (time.monotonic() - started) if quit_after else None
        show_startup_error(str(exc), log_file, left)
        raise
    window.show()
    if video is not None:
        window.player.play(video)
    else:
        window.show_error(problem)
        window.open_spec(f"synthetic:{settings.scenario}")
    window.wall_view.restore()
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    collection = GuiThreadGarbageCollection()
    try:
        return app.exec()
    finally:
        close_window(window)
        collection.stop()
        logger.info("showed %d frames", window.frames_shown)


def _synthetic_info(settings: Settings) -> SourceInfo:
    size = None
    return SourceInfo(
        "synthetic",
        f"synthetic:{settings.scenario}",
        settings.synthetic_fps,
        size,
        None,
        live=True,
        seekable=False,
    )
