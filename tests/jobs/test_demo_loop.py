"""The self-correcting loop end to end, headless: a real synthetic stream, the real drift
monitor, a real queue and worker process, real (tiny) training, a real hot-swap."""

from __future__ import annotations

import json

import pytest
from retrain_support import TINY_IMGSZ, camera_version, tiny_settings

from jobs.retraining import RetrainApprover
from tvdesk.config import Settings
from tvdesk.core.registry import Registry
from tvdesk.core.session.capture import stored_indices
from tvdesk.core.session.events import AlarmRaised, JobQueued, ModelPromoted, SwapDone
from tvdesk.core.store import Store
from tvdesk.demo.headless import DemoOptions, HeadlessDemo
from tvdesk.demo.report import HELD_OUT_CONDITIONS, build_report, evaluate_held_out

pytestmark = pytest.mark.slow


def test_day_to_night_alarm_retrain_promote_and_swap_without_losing_frames(
    isolated_home, tiny_model, base_yaml, tmp_path
):
    with Store() as store:
        first = Registry(store, isolated_home).base_version(tiny_model)
    options = DemoOptions(
        day_s=24.0, fade_s=2.0, fps=4.0, after_swap_s=5.0, baseline_s=15.0, max_job_s=400.0
    )
    settings = Settings(data_dir=isolated_home, model_path=tiny_model)
    approver = RetrainApprover(tiny_settings(base_yaml), isolated_home)
    try:
        run = HeadlessDemo(options, settings, approver).run()
    finally:
        approver.stop_workers()
    report = build_report(run)

    kinds = [type(t.event) for t in run.events]
    order = [AlarmRaised, JobQueued, ModelPromoted, SwapDone]
    assert [k for k in kinds if k in order][:4] == order, kinds
    assert run.outcome == "new model shown", report
    assert report["false_alarms_before_drift"] == 0
    assert options.day_s <= report["alarm"]["stream_s"] <= options.night_complete_s + 5
    assert report["job"]["state"] == "succeeded"

    swap = report["swap"]
    assert swap["frames_dropped_during_swap"] == 0 and swap["frames_after_swap"] > 0
    versions = [r.model_version for r in run.records]
    new_version = run.records[-1].model_version
    assert new_version != versions[0]
    changed = versions.index(new_version)
    gaps = [b.index - a.index for a, b in zip(run.records[:-1], run.records[1:], strict=True)]
    assert gaps[changed - 1] == 1  # the frames on either side of the swap are neighbours

    with Store() as store:  # the store agrees with what the stream saw
        events = store.drift_events.all()
        assert len(events) >= 1 and store.drift_events.decision(events[0].id) == "approved"
        job = store.jobs.get(report["job"]["id"])
        assert job.params["event_id"] == events[0].id
        active = camera_version(store, isolated_home)
        assert active.id != first.id and active.parent_id == first.id
        assert active.data_md5 and active.path.exists()
        sessions = store.sessions.all()
        assert sessions and sessions[0]["frames"] == len(run.records)
    capture = isolated_home / "capture"
    assert any(stored_indices(p) for p in capture.iterdir())

    evaluate_held_out(report, run, tmp_path / "eval", TINY_IMGSZ, 0.9, images=6)
    figures = report["map50"]
    for condition in HELD_OUT_CONDITIONS:  # old and new model, each on its own rendered set
        labels = list((tmp_path / "eval" / condition / "labels" / "val").glob("*.txt"))
        assert len(labels) == 6, condition
        for which in ("old", "new"):
            assert 0.0 <= figures[f"{which}_{condition}_map50"] <= 1.0
    assert figures["day_drop"] == round(figures["old_day_map50"] - figures["new_day_map50"], 4)
    assert figures["new_night_over_bundled_day"] == round(figures["new_night_map50"] / 0.9, 3)
    json.dumps(report)  # the report is JSON as it is
