"""Qt test set-up: UI state (QSettings) goes to a temporary folder, never the user's; a main
window with a real live session on the isolated app data folder."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from jobs.retraining import RetrainApprover
from tvdesk.config import RetrainSettings, Settings
from tvdesk.ui.app import build_window, close_window
from tvdesk.ui.gui_thread_gc import GuiThreadGarbageCollection

TINY_RETRAIN = RetrainSettings(epochs=1, label_budget=8, replay=8, imgsz=64, batch=4)


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As in the app (`tvdesk.ui.app.run_app`): a pool thread collecting an earlier test's
    window once stopped the suite for good."""
    collection = GuiThreadGarbageCollection()
    yield
    collection.stop()


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path, qapp):
    QCoreApplication.setOrganizationName("tvdesk-tests")
    QCoreApplication.setApplicationName("tvdesk")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    yield tmp_path


@pytest.fixture
def live_window(qtbot, isolated_home):
    """The app's window on the active model (the bundled one, registered as version 1), with a
    live session that queues retrainings on the local queue without starting a worker."""
    window = build_window(
        Settings(data_dir=isolated_home, synthetic_fps=10.0, inference_threads=1),
        RetrainApprover(TINY_RETRAIN, isolated_home, start_worker=False),
        poll_s=0.2,
    )
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    yield window
    close_window(window)
