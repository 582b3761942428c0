"""The GUI's start-up errors in a dialog that `--quit-after` gets past, FFmpeg kept off the GUI's
stderr, and low disk space as a warning in the main window before it stops recording."""

from __future__ import annotations

import collections
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from jobs.retraining import RetrainApprover
from tvdesk.cli import main
from tvdesk.config import RetrainSettings, Settings, settings_path
from tvdesk.ui.app import build_window, close_window

MB = 1024 * 1024


def gui(*args: str, home, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tvdesk.cli", "gui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "TVDESK_HOME": str(home)},
    )


def test_a_bad_model_shows_a_dialog_that_quit_after_closes(tmp_path, isolated_home):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    result = gui(
        "synthetic:day", "--model", str(bad), "--quit-after", "3", home=isolated_home, timeout=45
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("tvdesk: error: ")


def test_a_bad_settings_file_shows_its_error_in_a_dialog(qtbot, isolated_home):
    settings_path().write_text('confidence = "high"\n')
    shown: list[str] = []

    def look() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and not shown:
            shown.append(box.text())

    poll = QTimer(interval=50, timeout=look)
    poll.start()
    try:
        assert main(["gui", "--quit-after", "1"]) == 2
    finally:
        poll.stop()
    assert shown and "confidence must be a number" in shown[0]
    assert QApplication.activeModalWidget() is None


def test_ffmpeg_keeps_its_messages_off_the_gui_stderr(tmp_path, isolated_home):
    clip = tmp_path / "cut.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])  # its index (the moov atom) was at the end
    result = gui(str(clip), "--quit-after", "3", home=isolated_home)
    assert result.returncode == 0, result.stderr
    assert "moov atom" not in result.stderr and "[mov," not in result.stderr


Usage = collections.namedtuple("Usage", "total used free")


@pytest.fixture
def low_disk_window(qtbot, isolated_home, monkeypatch):
    """The main window on a data folder whose disk has 150 MB free, with min_free_mb 100."""
    monkeypatch.setattr("shutil.disk_usage", lambda path: Usage(1000 * MB, 850 * MB, 150 * MB))
    window = build_window(
        Settings(data_dir=isolated_home, min_free_mb=100),
        RetrainApprover(RetrainSettings(), isolated_home, start_worker=False),
    )
    qtbot.addWidget(window)
    window.show()
    yield window
    close_window(window)


def test_low_disk_space_is_a_warning_in_the_main_window(qtbot, low_disk_window):
    window = low_disk_window
    window.open_spec("synthetic:day")
    qtbot.waitUntil(lambda: "Low disk space" in window.notice.text.text(), timeout=15000)
    assert "150 MB free" in window.notice.text.text()
    qtbot.wait(1500)
    assert window.player.loop is not None and window.player.loop.running  # still recording
