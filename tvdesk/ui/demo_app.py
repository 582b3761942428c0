"""`tvdesk demo` with a window: the app on the demo source, with the live session set up for
the demo's retraining (and auto-approval when asked)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tvdesk.config import load_settings
from tvdesk.core.demo import DemoOptions, demo_source
from tvdesk.core.drift.status import DriftConfig
from tvdesk.core.retrain.settings import RetrainSettings
from tvdesk.ui.app import build_window, close_window
from tvdesk.ui.log_view import install_file_log


def run_demo_app(
    options: DemoOptions,
    retrain: RetrainSettings,
    home: Path | None = None,
    quit_after: float | None = None,
) -> int:
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["TVDESK_HOME"] = str(home)  # the worker sees the same data folder
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tvdesk")
    app.setOrganizationName("tvdesk")
    settings = load_settings()
    window = build_window(
        settings,
        log_file=install_file_log(settings.data_dir),
        retrain=retrain,
        auto_approve=options.auto_approve,
        drift_config=DriftConfig(baseline_seconds=options.baseline_s),
    )
    window.show()
    window.player.play(demo_source(options))
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    try:
        return app.exec()
    finally:
        close_window(window)
