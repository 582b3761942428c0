"""The drift banner: what drifted, sample frames, the plan; Approve and Dismiss send the
operator's decision for that very event; the banner follows what the session says next."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.events import AlarmEnded, AlarmRaised, JobQueued, RetrainPlan
from tvdesk.core.store.job import Job
from tvdesk.ui.drift_banner import DriftBannerWidget

EVENT = DriftEvent(
    start=62.0,
    drivers={"luma_mean": -12.3, "contrast": -6.1},
    severity=3.0,
    frame_indices=(600, 610, 620),
    summary="brightness -12σ, contrast -6σ: looks like night",
    id=7,
)
PLAN = RetrainPlan("teacher", 120, 10, 320, 400.0)


@pytest.fixture
def alarm(tmp_path) -> AlarmRaised:
    samples = []
    for i, level in enumerate((20, 40, 60)):
        path = tmp_path / f"{i:08d}.jpg"
        cv2.imwrite(str(path), np.full((360, 640, 3), level, np.uint8))
        samples.append(path)
    return AlarmRaised(EVENT, tuple(samples), PLAN)


@pytest.fixture
def banner(qtbot):
    widget = DriftBannerWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 260)
    return widget


def test_the_banner_says_what_drifted_shows_samples_and_the_plan(qtbot, banner, alarm):
    banner.show_alarm(alarm)
    assert banner.isVisible()
    assert "Drift detected" in banner.title.text()
    assert banner.summary.text() == EVENT.summary
    assert (
        "brightness -12.3σ" in banner.drivers.text() and "contrast -6.1σ" in banner.drivers.text()
    )
    assert PLAN.describe() in banner.plan.text()
    assert len(banner.thumbnails) == 3
    qtbot.waitUntil(lambda: all(t.pixmap() and not t.pixmap().isNull() for t in banner.thumbnails))
    assert banner.thumbnails[0].pixmap().width() <= 144


def test_approve_sends_the_event_and_the_queued_job_is_shown(qtbot, banner, alarm):
    banner.show_alarm(alarm)
    with qtbot.waitSignal(banner.approve_requested) as approved:
        qtbot.mouseClick(banner.approve_button, Qt.MouseButton.LeftButton)
    assert approved.args == [7]
    assert not banner.approve_button.isEnabled()  # no double approval
    banner.on_alarm_ended(AlarmEnded(replace(EVENT, end=90.0)))
    assert banner.title.text() == "Drift alarm ended after 28 s of stream"
    banner.on_job_queued(JobQueued(Job("retrain", params={"event_id": 7}, id=3), "local"))
    assert "job 3" in banner.title.text()
    banner._hide_timer.setInterval(50)
    banner._hide_timer.start()
    qtbot.waitUntil(lambda: not banner.isVisible())


def test_dismiss_as_expected_from_the_keyboard(qtbot, banner, alarm):
    banner.show_alarm(alarm)
    banner.show_alarm(alarm)  # a second alarm replaces the first, thumbnails too
    assert len(banner.thumbnails) == 3
    with qtbot.waitSignal(banner.dismiss_requested) as dismissed:
        banner.expected_button.animateClick()
    assert dismissed.args == [7, True]
    banner.on_dismissed(8)  # another event: this banner stays
    assert banner.isVisible()
    banner.on_dismissed(7)
    assert not banner.isVisible()


def test_a_failed_decision_can_be_tried_again(banner, alarm):
    banner.show_alarm(alarm)
    banner.on_approve_clicked()
    assert not banner.dismiss_button.isEnabled()
    banner.enable_decision()
    assert banner.approve_button.isEnabled() and banner.dismiss_button.isEnabled()


def test_approve_with_labels_sends_the_chosen_export(qtbot, banner, alarm, tmp_path, monkeypatch):
    """The file dialog (a modal the test cannot drive) answers with a COCO file, then with a
    YOLO export's data.yaml: the export is the file, then its folder."""
    from tvdesk.ui import drift_banner

    answers = [(str(tmp_path / "coco.json"), ""), (str(tmp_path / "yolo" / "data.yaml"), "")]
    monkeypatch.setattr(drift_banner.QFileDialog, "getOpenFileName", lambda *a, **k: answers.pop(0))
    banner.show_alarm(alarm)
    with qtbot.waitSignal(banner.approve_with_labels_requested) as sent:
        banner.labels_button.click()
    assert sent.args == [EVENT.id, str(tmp_path / "coco.json")]
    assert not banner.approve_button.isEnabled() and "labels in" in banner.plan.text()
    banner.enable_decision()
    with qtbot.waitSignal(banner.approve_with_labels_requested) as sent:
        banner.labels_button.click()
    assert sent.args == [EVENT.id, str(tmp_path / "yolo")]
