"""The jobs panel on a real store: a job's stages and progress, the epoch curves the train
stage records, its log, its refinement rounds, Cancel / Stop now and Stop after this round
(written to the store), and the review a job waits for."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tvdesk.config import RetrainSettings
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.store import Store
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import JobContext, request_retrain
from tvdesk.retrain.labelers import REVIEW_DONE
from tvdesk.retrain.review_folder import job_review_folder
from tvdesk.ui.jobs_panel import JobsPanel

EPOCHS = [
    {"epoch": 1, "train/box_loss": 1.9, "train/cls_loss": 2.4, "metrics/mAP50(B)": 0.21},
    {"epoch": 2, "train/box_loss": 1.6, "train/cls_loss": 1.9, "metrics/mAP50(B)": 0.35},
]


@pytest.fixture
def store(isolated_home):
    with Store(isolated_home / "tvdesk.db") as store:
        yield store


@pytest.fixture
def job(store, isolated_home):
    event = store.drift_events.save(DriftEvent(60.0, {"luma_mean": -12.0}, 3.0, (1, 2)))
    settings = RetrainSettings(labeler="review", epochs=2)
    return request_retrain(store, event, isolated_home / "capture" / "cam", settings)


@pytest.fixture
def panel(qtbot, store, isolated_home):
    widget = JobsPanel(store.path, isolated_home)
    qtbot.addWidget(widget)
    widget.resize(1100, 420)
    widget.show()
    yield widget
    widget.close_store()


def test_a_training_job_shows_its_stages_epochs_and_log(qtbot, store, job, panel, isolated_home):
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1)
    assert panel.table.item(0, 1).text() == "queued"
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("train")
    ctx.remember(epochs=EPOCHS)
    ctx.progress(0.5, "epoch 2/2: mAP50 0.350")
    (isolated_home / "worker.log").write_text(f"INFO jobs: job {job.id}: train\nother line\n")
    qtbot.waitUntil(lambda: panel.detail.bars["train"].value() == 500, timeout=3000)
    bars = panel.detail.bars
    assert [bars[s].value() for s in ("select", "label", "dataset")] == [1000] * 3
    assert bars["evaluate"].value() == 0 and bars["train"].format() == "%p%"
    assert panel.table.cellWidget(0, 3).value() == round(job_progress(store, job.id) * 100)
    x, y = panel.detail.chart.curves["metrics/mAP50(B)"].getData()
    assert list(x) == [1, 2] and list(y) == [0.21, 0.35]
    log = panel.detail.log.toPlainText()
    assert "epoch 2/2: mAP50 0.350" in log and f"job {job.id}: train" in log
    assert "other line" not in log
    assert panel._summary == "jobs: 1 running, 0 queued"


def test_cancel_is_written_to_the_store_and_reported(qtbot, store, job, panel, isolated_home):
    JobContext(store, isolated_home, job.id).begin("select")
    qtbot.waitUntil(lambda: panel.table.item(0, 1).text() == "running", timeout=3000)
    assert panel.detail.cancel_button.isEnabled()
    with qtbot.waitSignal(panel.job_finished, timeout=5000) as finished:
        qtbot.mouseClick(panel.detail.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].state == JobState.CANCELLED
    assert store.jobs.get(job.id).state == JobState.CANCELLED
    qtbot.waitUntil(lambda: not panel.detail.cancel_button.isEnabled())
    assert panel.detail.bars["select"].format() == "cancelled"


def test_a_job_waiting_for_review_offers_the_review(qtbot, store, job, panel, isolated_home):
    JobContext(store, isolated_home, job.id).begin("label")
    labels = job_review_folder(isolated_home, job) / "labels"
    labels.mkdir(parents=True)
    (labels / "00000001.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    qtbot.waitUntil(panel.detail.review_button.isEnabled, timeout=3000)
    with qtbot.waitSignal(panel.review_requested) as requested:
        panel.detail.review_button.click()
    assert requested.args[0].id == job.id
    (labels.parent / REVIEW_DONE).write_text("")
    qtbot.waitUntil(lambda: not panel.detail.review_button.isEnabled(), timeout=3000)


def test_a_failed_job_turns_to_its_log_with_the_reason(qtbot, store, job, panel, isolated_home):
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("train")
    qtbot.waitUntil(lambda: panel.table.item(0, 1).text() == "running", timeout=3000)
    assert panel.detail.tabs.currentWidget() is panel.detail.chart
    with qtbot.waitSignal(panel.job_finished, timeout=5000):
        ctx.fail(RuntimeError("the dataset has no images"))
    qtbot.waitUntil(lambda: panel.detail.tabs.currentWidget() is panel.detail.log, timeout=3000)
    assert "the dataset has no images" in panel.detail.message.text()


def job_progress(store: Store, job_id: int) -> float:
    return store.jobs.get(job_id).progress


ROUNDS = [
    {
        "round": 1,
        "promoted": True,
        "model_version": "2",
        "labelled": 200,
        "train_seconds": 390.0,
        "gate": {"drift_gain": 0.57},
        "metrics": {"candidate": {"drift": {"map50": 0.59}, "base": {"map50": 0.88}}},
    },
    {
        "round": 2,
        "promoted": False,
        "labelled": 200,
        "train_seconds": 600.0,
        "gate": {"drift_gain": 0.012},
        "metrics": {"candidate": {"drift": {"map50": 0.61}, "base": {"map50": 0.85}}},
    },
]


def test_a_refining_job_shows_its_rounds_and_stops_keeping_its_version(
    qtbot, store, job, panel, isolated_home
):
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("train")
    ctx.remember(round=3, rounds=ROUNDS, model_version="2", model_round=1)
    qtbot.waitUntil(lambda: panel.table.item(0, 2).text() == "train (round 3)", timeout=3000)
    detail = panel.detail
    assert "round 3" in detail.heading.text()
    x, y = detail.rounds.curves["drift"].getData()
    assert list(x) == [1, 2] and list(y) == [0.59, 0.61]
    assert list(detail.rounds.curves["base"].getData()[1]) == [0.88, 0.85]
    lines = detail.rounds.lines.text().splitlines()
    assert lines[0].startswith("Round 1: version 2 live · 200 new frames · 6.5 min")
    assert lines[1].startswith("Round 2: kept the last one") and "gain +0.012" in lines[1]
    assert detail.cancel_button.text() == "Stop &now, keep version 2"
    qtbot.mouseClick(detail.stop_after_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not detail.stop_after_button.isEnabled(), timeout=3000)
    assert store.jobs.get(job.id).result["stop_after_round"] is True
    with qtbot.waitSignal(panel.job_finished, timeout=5000) as finished:
        qtbot.mouseClick(detail.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].state == JobState.SUCCEEDED
    assert finished.args[0].message.endswith("version 2 (round 1) stays live")


def test_before_its_first_version_a_job_has_no_rounds_and_cancel_cancels(
    qtbot, store, job, panel, isolated_home
):
    JobContext(store, isolated_home, job.id).begin("train")
    qtbot.waitUntil(lambda: panel.table.item(0, 2).text() == "train", timeout=3000)
    detail = panel.detail
    detail.tabs.setCurrentWidget(detail.rounds)
    assert detail.tabs.tabText(detail.tabs.currentIndex()) == "R&ounds"
    assert detail.rounds.lines.text().startswith("No rounds yet")
    assert list(detail.rounds.curves["drift"].getData()[1] or []) == []
    assert detail.cancel_button.text() == "&Cancel job"
    assert detail.stop_after_button.text() == "Stop &after this round"
    qtbot.mouseClick(detail.stop_after_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: detail.stop_after_button.text() == "Stops after this round", timeout=3000
    )
    assert store.jobs.get(job.id).state == JobState.RUNNING  # the round goes on to its gate
    with qtbot.waitSignal(panel.job_finished, timeout=5000) as finished:
        qtbot.mouseClick(detail.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].state == JobState.CANCELLED
    qtbot.waitUntil(lambda: not detail.cancel_button.isEnabled(), timeout=3000)
    assert not detail.stop_after_button.isEnabled()
