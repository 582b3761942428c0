"""The main window with the real player: sources, boxes, pause/step/seek, thresholds, filters."""

from __future__ import annotations

import subprocess
import sys

import cv2
import pytest
from PySide6.QtWidgets import QApplication

from tvdesk.ui.source_dialogs import StreamUrlDialog, url_with_credentials


@pytest.fixture
def window(live_window):
    return live_window


@pytest.fixture(scope="module")
def clip(tmp_path_factory, bundled_model):
    """A 60-frame 1280x720 clip of synthetic traffic, written with cv2.VideoWriter."""
    from tvdesk.core.synth import SyntheticCamera

    path = tmp_path_factory.mktemp("clip") / "day.mp4"
    camera = SyntheticCamera("day", fps=10.0, seed=4, width=1280, height=720)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (1280, 720))
    for _ in range(60):
        writer.write(camera.read().image)
    writer.release()
    return path


def wait_frames(qtbot, window, more: int, timeout: int = 20000) -> None:
    target = window.frames_shown + more
    qtbot.waitUntil(lambda: window.frames_shown >= target, timeout=timeout)


def wait_still(qtbot, window, quiet_ms: int = 1500, timeout_ms: int = 15000) -> int:
    """Wait until no frame has come for `quiet_ms`; the frames shown by then."""
    waited, last = 0, window.frames_shown
    while waited < timeout_ms:
        qtbot.wait(quiet_ms)
        waited += quiet_ms
        if window.frames_shown == last:
            return last
        last = window.frames_shown
    raise AssertionError("frames kept coming after the pause")


def test_synthetic_camera_plays_with_boxes(qtbot, window):
    window.open_spec("synthetic:day")
    wait_frames(qtbot, window, 5)
    qtbot.waitUntil(lambda: len(window.video.detections) > 0, timeout=10000)
    assert set(window.video.detections.labels()) <= {"car", "truck", "bus", "motorcycle"}
    assert window.model_label.text().startswith("model tvdesk-base v1 (")  # the active one
    shot = window.video.grab().toImage()
    assert shot.pixelColor(shot.width() // 2, shot.height() // 2).value() > 0


def test_pause_step_and_seek_a_file(qtbot, window, clip):
    window.open_file(clip)
    wait_frames(qtbot, window, 3)
    assert window.controls.seek.isEnabled() and window.controls.seek.maximum() == 59
    window.on_play_pause()
    paused_at = wait_still(qtbot, window)  # the frame in flight when paused still shows
    qtbot.wait(600)
    assert window.frames_shown == paused_at  # paused means no new frames
    window.on_step()
    wait_frames(qtbot, window, 1)
    qtbot.wait(600)
    assert window.frames_shown == paused_at + 1  # exactly one frame per step
    window.player.seek(50)
    qtbot.waitUntil(lambda: window.controls.seek.value() >= 50, timeout=10000)
    assert str(clip) in window.recent_files()


def test_confidence_and_class_filter_apply_to_the_next_frames(qtbot, window):
    window.open_spec("synthetic:day")
    qtbot.waitUntil(lambda: len(window.video.detections) > 2, timeout=20000)
    window.controls.confidence.setValue(95)
    assert window.player.slot.current.thresholds.conf == pytest.approx(0.95)
    wait_frames(qtbot, window, 3)
    assert (window.video.detections.scores >= 0.95).all()
    window.controls.confidence.setValue(10)
    car_only = [a for a in window.controls.class_menu.actions() if a.text() != "car"]
    for action in car_only:
        action.setChecked(False)
    wait_frames(qtbot, window, 3)
    qtbot.waitUntil(lambda: len(window.video.detections) > 0, timeout=10000)
    assert set(window.video.detections.labels()) == {"car"}
    assert window.controls.class_button.text() == "1 classes"


def test_a_bad_source_is_a_notice_not_a_crash_nor_a_modal_box(qtbot, window, tmp_path):
    assert not window.open_spec(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(window.notice.isVisible, timeout=5000)
    assert window.notice.level == "error" and "missing.mp4" in window.notice.text.text()
    assert "missing.mp4" in window.statusBar().currentMessage()
    assert QApplication.activeModalWidget() is None


def test_stream_dialog_masks_the_password(qtbot):
    dialog = StreamUrlDialog()
    qtbot.addWidget(dialog)
    dialog.url_edit.setText("rtsp://cam.local:554/live")
    dialog.user_edit.setText("admin")
    dialog.password_edit.setText("s3cr3t/pw")
    assert dialog.url() == "rtsp://admin:s3cr3t%2Fpw@cam.local:554/live"
    assert "s3cr3t" not in dialog.preview.text() and "***" in dialog.preview.text()
    assert url_with_credentials("http://h/x", "", "pw") == "http://h/x"


def test_gui_command_opens_and_closes_by_itself(bundled_model, isolated_home):
    result = subprocess.run(
        [sys.executable, "-m", "tvdesk.cli", "gui", "--scenario", "day", "--quit-after", "8"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "QT_QPA_PLATFORM": "offscreen",
            "TVDESK_HOME": str(isolated_home),
            "PATH": "/usr/bin:/bin",
            "HOME": str(isolated_home),
        },
    )
    assert result.returncode == 0, result.stderr
    shown = int(result.stderr.rsplit("showed ", 1)[1].split()[0])
    assert shown > 5


def test_information_does_not_hide_an_error_the_operator_has_not_closed(qtbot, window):
    window.show_error("The new line was not saved: it has zero length")
    window.show_info("Now running model tvdesk-base v1 (int8); playback goes on")
    assert window.notice.level == "error" and "zero length" in window.notice.text.text()
    assert not window.notice.isHidden()
    assert "playback goes on" in window.statusBar().currentMessage()

    window.notice.close_button.click()  # closed: the next information shows in the notice
    window.show_info("Job 3 succeeded")
    assert (window.notice.level, window.notice.text.text()) == ("info", "Job 3 succeeded")
    assert not window.notice.isHidden()
