"""The whole window with a real live session: a night alarm shows the banner and Approve
queues a real job; a promoted model is swapped in while frames keep coming and Roll back
swaps back; failures are notices, never modal boxes; the auto-approve switch."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtWidgets import QApplication
from ui_support import DAY_NIGHT

from jobs.queue import open_queue
from tvdesk.config import load_settings, settings_path
from tvdesk.core.registry import Candidate, Registry
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store import Store
from tvdesk.core.store.job import JobState
from tvdesk.ui.app import build_window, close_window


def wait_frames(qtbot, window, more: int, timeout: int = 60000) -> None:
    target = window.frames_shown + more
    qtbot.waitUntil(lambda: window.frames_shown >= target, timeout=timeout)


@pytest.mark.slow
def test_night_shows_the_banner_and_approve_queues_a_job(qtbot, live_window, isolated_home):
    window, view = live_window, live_window.session_view
    window.player.play(SyntheticSource(DAY_NIGHT, fps=3.0, paced=False), every_frame=True)
    qtbot.waitUntil(view.banner.isVisible, timeout=300000)
    banner = view.banner
    assert "night" in banner.summary.text() and "brightness" in banner.drivers.text()
    assert banner.thumbnails and "label 8 frames" in banner.plan.text()
    qtbot.waitUntil(lambda: bool(window.dashboard.history.alarms), timeout=5000)

    banner.approve_button.click()
    qtbot.waitUntil(lambda: "queued as job" in banner.title.text(), timeout=30000)
    job_id = int(banner.title.text().rsplit(" ", 1)[1])
    qtbot.waitUntil(lambda: view.jobs.table.rowCount() == 1, timeout=5000)
    assert view.jobs.selected_job().id == job_id
    assert "Retraining queued as job" in window.notice.text.text()
    with Store(isolated_home / "tvdesk.db") as store:
        job = store.jobs.get(job_id)
        assert job.state == JobState.QUEUED and job.params["settings"]["epochs"] == 1
        assert store.drift_events.decision(job.params["event_id"]) == "approved"
    assert open_queue(isolated_home).pending() == 1


@pytest.mark.slow
def test_a_promoted_model_swaps_in_while_playing_and_roll_back_swaps_back(
    qtbot, live_window, isolated_home, bundled_model, tmp_path
):
    window, view = live_window, live_window.session_view
    window.open_spec("synthetic:day")
    wait_frames(qtbot, window, 6)
    assert window.model_label.text().startswith("model tvdesk-base v1 (")
    images = tmp_path / "images"  # a "fine-tuned" version: same weights, new training data
    images.mkdir()
    for jpg in sorted((isolated_home / "capture").rglob("*.jpg"))[:6]:
        shutil.copy(jpg, images / jpg.name)
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    with Store(isolated_home / "tvdesk.db") as store:
        registry = Registry(store, isolated_home)
        camera = store.cameras.named("synthetic")
        first = registry.version_of(camera)
        registry.register(
            "tvdesk-base",
            Candidate(bundled_model, bundled_model.with_suffix(".pt"), card, train_images=images),
            parent_id=first.id,
            activate_for=camera.id,
        )
    qtbot.waitUntil(
        lambda: window.model_label.text().startswith("model tvdesk-base v2 ("), timeout=60000
    )
    assert "tvdesk-base v2 is now this camera's" in window.notice.text.text() or "v2" in (
        window.notice.text.text()
    )
    wait_frames(qtbot, window, 3)  # playback goes on with the new model
    qtbot.waitUntil(lambda: view.models.table.rowCount() == 2, timeout=5000)
    assert view.models.table.item(0, 0).text() == "● active"

    view.models.rollback_button.click()
    qtbot.waitUntil(
        lambda: window.model_label.text().startswith("model tvdesk-base v1 ("), timeout=60000
    )
    wait_frames(qtbot, window, 3)
    qtbot.waitUntil(lambda: view.models.table.item(1, 0).text() == "● active", timeout=5000)


def test_a_failed_decision_is_a_notice_with_the_detail_in_the_log(qtbot, live_window):
    window = live_window
    window.session_view.bridge.approve(999)  # no such alarm in this session
    qtbot.waitUntil(window.notice.isVisible, timeout=10000)
    assert window.notice.level == "error"
    assert window.notice.text.text().startswith("The retraining could not be queued")
    assert QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: "drift event 999" in window.log_view.toPlainText(), timeout=5000)
    window.notice.details.click()
    assert window.log_dock.isVisible()


def test_the_auto_approve_switch_sets_the_session_and_the_settings_file(qtbot, live_window):
    view = live_window.session_view
    assert not view.auto_approve.isChecked() and not view.bridge.session.auto_approve
    view.auto_approve.trigger()
    assert view.bridge.session.auto_approve
    assert load_settings().auto_approve
    assert "auto_approve = true" in settings_path().read_text()
    next_start = build_window(load_settings(), poll_s=0.2)  # auto-approve read from the file
    qtbot.addWidget(next_start)
    try:
        assert next_start.session_view.auto_approve.isChecked()
        assert next_start.player.session.auto_approve
    finally:
        close_window(next_start)


def test_the_window_names_the_camera_which_can_be_renamed_and_relearn_its_normal(
    qtbot, live_window, isolated_home
):
    window, view = live_window, live_window.session_view
    window.open_spec("synthetic:day")
    wait_frames(qtbot, window, 3)
    assert window.windowTitle() == "tvdesk — synthetic"
    assert window.source_label.text() == "camera synthetic · synthetic:day"
    assert view.models.camera_title.text() == "Camera synthetic: model line tvdesk-base"
    view.bridge.rename_camera("test road")
    qtbot.waitUntil(lambda: window.windowTitle() == "tvdesk — test road", timeout=10000)
    with Store(isolated_home / "tvdesk.db") as store:
        assert store.cameras.named("test road").kind == "synthetic"
    view.on_relearn()
    qtbot.waitUntil(
        lambda: "learning what normal looks like" in window.dashboard.state_label.text(),
        timeout=10000,
    )
    assert "learning what normal looks like again" in window.notice.text.text()
