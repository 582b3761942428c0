"""The task bodies and the pieces they decide with, without a consumer: Huey's in-process
`MemoryHuey(immediate=True)`, the promotion gate and the retraining settings."""

from __future__ import annotations

import pytest
from huey import MemoryHuey
from retrain_support import NIGHT_FROM, capture_day_night, synthetic_camera

from jobs.queue import JobQueue
from tvdesk.config import RetrainSettings, SettingsError
from tvdesk.core.session.capture import stored_indices
from tvdesk.core.store import Store
from tvdesk.core.store.job import JobState
from tvdesk.core.synth.dataset import DatasetSpec
from tvdesk.retrain import dataset, rounds
from tvdesk.retrain.context import (
    KIND,
    JobContext,
    JobStopped,
    cancel_job,
    request_retrain,
    stop_job,
)
from tvdesk.retrain.gate import best_share, decide
from tvdesk.retrain.labelers import LabelError
from tvdesk.retrain.plan import retrain_plan
from tvdesk.retrain.stages import evaluate, label, select


@pytest.fixture
def queue() -> JobQueue:
    return JobQueue(MemoryHuey("tvdesk-test", immediate=True))


def _job(store: Store, event_id: int, capture: str = "/nowhere"):
    params = {"event_id": event_id, "capture_dir": capture, "settings": RetrainSettings().as_dict()}
    return store.jobs.create(KIND, params)


def test_a_cancelled_job_runs_no_stage(isolated_home, queue):
    with Store() as store:
        job = _job(store, 1)
        cancel_job(store, job.id)
        queue.submit_retrain(job.id)
        after = store.jobs.get(job.id)
    assert after.state == JobState.CANCELLED and after.stage == ""
    assert not (isolated_home / "jobs" / f"job-{job.id}" / "selection.json").exists()


def test_a_failing_stage_records_its_error_and_ends_the_chain(isolated_home, queue):
    with Store() as store:
        job = _job(store, 99)
        queue.submit_retrain(job.id)
        failed = store.jobs.get(job.id)
    assert failed.state == JobState.FAILED and failed.stage == "select"
    assert failed.message == "select failed: drift event 99 is not in the database"


def test_stop_cancels_a_job_before_its_first_promotion_and_keeps_the_last_one_after(
    isolated_home,
):
    with Store() as store:
        first = JobContext(store, isolated_home, _job(store, 1).id)
        first.begin("train")
        assert stop_job(store, first.id).state == JobState.CANCELLED
        refining = JobContext(store, isolated_home, _job(store, 1).id)
        refining.begin("select")
        refining.remember(round=3, model_version="3", model_round=2)
        stop_job(store, refining.id, after_round=True)
        refining.remember(selected=4)  # the worker writes on: the operator's mark stays
        marked = store.jobs.get(refining.id)
        assert marked.state == JobState.RUNNING and marked.result["stop_after_round"] is True
        assert marked.result["selected"] == 4
        stopped = stop_job(store, refining.id)
        assert stopped.state == JobState.SUCCEEDED
        assert stopped.message == (
            "stopped by the operator during round 3 (select); version 3 (round 2) stays live"
        )
        with pytest.raises(JobStopped, match="was stopped during select"):
            refining.checkpoint(force=True)


def test_the_plan_says_how_the_rounds_go_on_and_end():
    plan = retrain_plan(RetrainSettings()).describe()
    assert "Then it goes on in rounds while the condition holds" in plan
    assert "10 min of fine-tuning from the last version swapped in" in plan
    assert "gains under 0.01 mAP50, after 40 min of fine-tuning in all" in plan
    assert "the last swapped-in version stays" in plan
    labelled_by_hand = RetrainSettings(labeler="import", import_dir="/labels")
    assert "rounds" not in retrain_plan(labelled_by_hand).describe()  # new frames need labels
    assert "rounds" not in retrain_plan(RetrainSettings(refine_minutes=0)).describe()


def test_the_gate_promotes_only_a_real_improvement():
    active = {"drift": {"map50": 0.40}, "base": {"map50": 0.90}}
    better = {"drift": {"map50": 0.80}, "base": {"map50": 0.89}}
    forgetful = {"drift": {"map50": 0.85}, "base": {"map50": 0.80}}
    same = {"drift": {"map50": 0.41}, "base": {"map50": 0.90}}
    assert decide(better, active, min_gain=0.02, max_base_loss=0.03).promote
    kept = decide(forgetful, active, min_gain=0.02, max_base_loss=0.03)
    assert not kept.promote and "loses 0.1000 mAP50 on the base data" in kept.reason
    flat = decide(same, active, min_gain=0.02, max_base_loss=0.03)
    assert not flat.promote and "gains +0.0100 mAP50" in flat.reason
    just_short = {"drift": {"map50": 0.4197}, "base": {"map50": 0.90}}
    short = decide(just_short, active, min_gain=0.02, max_base_loss=0.03)
    assert not short.promote and "gains +0.0197 mAP50 on the drifted data, 0.020" in short.reason


def test_the_gate_promotes_the_share_best_on_drifted_plus_base():
    def figures(drift: float, base: float) -> dict:
        return {"drift": {"map50": drift}, "base": {"map50": base}}

    # Real fog, imported labels (bench.real_weather_blends): the 80 % blend beat the fine-tune.
    fog = {1.0: figures(0.691, 0.681), 0.9: figures(0.703, 0.693), 0.8: figures(0.700, 0.701)}
    assert best_share(fog) == 0.8
    # The synthetic night: a blend buys base with more night than it gives; the fine-tune stays.
    night = {1.0: figures(0.634, 0.891), 0.9: figures(0.624, 0.895)}
    assert best_share(night) == 1.0
    # An equal score goes to the weights that moved least.
    assert best_share({1.0: figures(0.75, 0.5), 0.9: figures(0.5, 0.75)}) == 0.9
    with pytest.raises(ValueError, match="no fine-tune share passed"):
        best_share({})


def test_settings_reject_what_cannot_work():
    with pytest.raises(SettingsError, match="unknown retraining setting"):
        RetrainSettings.from_dict({"epoch": 3})
    with pytest.raises(SettingsError, match="needs a labelling tool's export"):
        RetrainSettings(labeler="import")
    with pytest.raises(SettingsError, match="labeler must be one of"):
        RetrainSettings(labeler="crowd")
    assert RetrainSettings().with_changes(epochs=None, label_budget=5).label_budget == 5
    with pytest.raises(SettingsError, match="set epochs"):
        RetrainSettings(epochs=0, train_minutes=0)
    assert RetrainSettings(epochs=3, train_minutes=0).epochs == 3
    with pytest.raises(SettingsError, match="min_class_boxes must be 0 or more"):
        RetrainSettings(min_class_boxes=-1)
    with pytest.raises(SettingsError, match="lr0 and operator_lr0 must be above 0"):
        RetrainSettings(operator_lr0=0)


def test_an_operators_labels_fine_tune_with_their_own_learning_rate():
    by_hand = RetrainSettings(labeler="import", import_dir="/labels", lr0=0.001, operator_lr0=3e-4)
    assert by_hand.fine_tune_lr == 3e-4
    assert by_hand.with_changes(labeler="review").fine_tune_lr == 3e-4
    assert by_hand.with_changes(labeler="teacher").fine_tune_lr == 0.001
    assert RetrainSettings().fine_tune_lr == RetrainSettings().lr0  # the oracle's


def test_the_first_job_renders_the_replay_set_before_it_waits_for_frames(
    isolated_home, bundled_model, tmp_path, monkeypatch
):
    """With no base dataset configured, select renders the app's own (here a 6-image stand-in
    for the 600) while the drifted frames are still coming in, so the dataset stage only
    reads it."""
    monkeypatch.setattr(dataset, "BASE_SPEC", DatasetSpec(train=4, val=2, width=256, height=144))
    capture = tmp_path / "capture"
    with Store() as store:
        event = capture_day_night(bundled_model, capture, store, frames=NIGHT_FROM + 10)
        camera = synthetic_camera(store, isolated_home, bundled_model)
        settings = RetrainSettings(label_budget=4)
        params = {
            "event_id": event.id,
            "camera_id": camera.id,
            "capture_dir": str(capture),
            "settings": settings.as_dict(),
        }
        ctx = JobContext(store, isolated_home, store.jobs.create(KIND, params).id)
        ctx.begin("select")
        select(ctx)
        assert ctx.result["selected"] == 4
    base = isolated_home / dataset.APP_DATA_FOLDER
    assert len(list(base.glob("base/images/*/*.jpg"))) == 6
    assert (base / "base.dvc").exists()  # versioned like every dataset of the app


def test_labels_with_no_boxes_stop_the_job_before_training(
    isolated_home, store, captured, tmp_path
):
    """A teacher that keeps nothing (measured on the real night clip: 0 boxes on 200 frames),
    or an export of empty label files: the job fails at label, saying what to do, rather than
    teach the model that the condition holds no vehicles."""
    capture, _ = captured
    export = tmp_path / "export"
    export.mkdir()
    (export / "classes.txt").write_text("car\n")
    for index in stored_indices(capture):
        (export / f"{index:08d}.txt").write_text("")  # looked at, nothing found
    settings = RetrainSettings(label_budget=4, labeler="import", import_dir=str(export))
    job = request_retrain(store, store.drift_events.all()[0], capture, settings)
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("select")
    select(ctx)
    ctx.begin("label")
    with pytest.raises(LabelError, match=r"gave 0 boxes on the 4 chosen frames.*review.*--labels"):
        label(ctx)
    assert ctx.result["boxes"] == 0  # what the labeler gave is kept for the jobs panel


def test_the_gate_keeps_the_model_when_the_drifted_val_split_holds_no_vehicle(
    isolated_home, store, captured, tmp_path
):
    capture, _ = captured
    job = request_retrain(store, store.drift_events.all()[0], capture, RetrainSettings())
    data = tmp_path / "set"
    (data / "labels" / "val").mkdir(parents=True)
    (data / "labels" / "val" / "new_000000.txt").write_text("")
    (data / "data.yaml").write_text("train: images/train\nval: images/val\n")
    ctx = JobContext(store, isolated_home, job.id)
    ctx.begin("evaluate")
    ctx.remember(data_yaml=str(data / "data.yaml"), base_yaml=str(tmp_path / "no-base.yaml"))
    with pytest.raises(JobStopped):
        evaluate(ctx)
    after = store.jobs.get(job.id)
    assert after.state == JobState.SUCCEEDED and not after.result["promoted"]
    assert "the drifted val split holds no labelled vehicle" in after.message


def test_the_label_stage_imports_a_tools_export_of_the_event_frames(
    isolated_home, store, captured, tmp_path
):
    """An export as a labelling tool writes it after `tvdesk retrain --export-frames`: label
    files named after the frames, the tool's class names, no images (the job's frames are
    the images)."""
    capture, event = captured
    export = tmp_path / "export"
    export.mkdir()
    (export / "classes.txt").write_text("bus\ncar\n")
    for index in stored_indices(capture):
        (export / f"{index:08d}.txt").write_text("1 0.5 0.5 0.2 0.1\n")  # a car
    settings = RetrainSettings(label_budget=4, labeler="import", import_dir=str(export))
    job = request_retrain(store, store.drift_events.all()[0], capture, settings)
    ctx = JobContext(store, isolated_home, job.id)
    for stage in (select, label):
        ctx.begin(stage.__name__)
        stage(ctx)
    assert ctx.result["labelled"] == 4 and ctx.result["boxes"] == 4
    assert event.id is not None


def test_the_first_training_gets_what_selection_and_labelling_left_of_the_ten_minutes():
    """A teacher labelling a real camera's frames takes ~4 minutes before training starts:
    6.5 minutes of training would bring the version live after 11. The training is cut to
    what the promise leaves, never below the minimum, never above train_minutes."""
    settings = RetrainSettings(train_minutes=6.5, live_within_minutes=10.0)
    after = rounds.AFTER_TRAINING_S
    assert rounds.first_training_minutes(settings, 60.0) == 6.5  # oracle labels: quick
    assert rounds.first_training_minutes(settings, 230.0) == pytest.approx((600 - 230 - after) / 60)
    assert rounds.first_training_minutes(settings, 590.0) == rounds.MIN_TRAIN_MINUTES
    short = RetrainSettings(train_minutes=0.5, live_within_minutes=10.0)
    assert rounds.first_training_minutes(short, 9999.0) == 0.5
    unbounded = RetrainSettings(train_minutes=6.5, live_within_minutes=0.0)
    assert rounds.first_training_minutes(unbounded, 9999.0) == 6.5
    with pytest.raises(SettingsError, match="live_within_minutes must be 0 or more"):
        RetrainSettings(live_within_minutes=-1)
