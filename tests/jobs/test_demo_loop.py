"""The self-correcting loop end to end, headless: a real synthetic stream, the real drift
monitor, a real queue and worker process, real (tiny) training, a real hot-swap, then a
refinement round on the frames the camera captured after it, swapped in the same way."""

from __future__ import annotations

import itertools
import json

import pytest
from retrain_support import TINY_IMGSZ, camera_version, tiny_settings

from jobs.retraining import RetrainApprover
from tvdesk.config import Settings
from tvdesk.core.registry import Registry
from tvdesk.core.session.capture import stored_indices
from tvdesk.core.session.events import AlarmRaised, JobQueued, ModelPromoted, SwapDone
from tvdesk.core.store import Store
from tvdesk.demo.headless import DemoOptions, HeadlessDemo, TimedEvent, accepted_swaps
from tvdesk.demo.report import HELD_OUT_CONDITIONS, build_report, evaluate_held_out
from tvdesk.retrain.context import stop_job

pytestmark = pytest.mark.slow


def _stop_after_the_second_round(timed: TimedEvent) -> None:
    """The operator's "stop after this round", once the first new version is live."""
    event = timed.event
    if isinstance(event, ModelPromoted) and event.version.version == "2":
        with Store() as store:
            job = next(j for j in store.jobs.all() if j.kind == "retrain")
            stop_job(store, job.id, after_round=True)


def test_day_to_night_alarm_retrain_promote_and_swap_without_losing_frames(
    isolated_home, tiny_model, base_yaml, tmp_path
):
    with Store() as store:
        first = Registry(store, isolated_home).base_version(tiny_model)
    options = DemoOptions(
        day_s=24.0, fade_s=2.0, fps=4.0, after_swap_s=5.0, baseline_s=15.0, max_job_s=400.0
    )
    settings = Settings(data_dir=isolated_home, model_path=tiny_model)
    retrain = tiny_settings(base_yaml, refine_minutes=60.0, round_min_gain=-1.0)
    approver = RetrainApprover(retrain, isolated_home)
    try:
        run = HeadlessDemo(options, settings, approver).run(_stop_after_the_second_round)
    finally:
        approver.stop_workers()
    report = build_report(run)

    kinds = [type(t.event) for t in run.events]
    order = [AlarmRaised, JobQueued, ModelPromoted, SwapDone, ModelPromoted, SwapDone]
    seen = [k for k in kinds if k in order]
    # A version's int8 copy, made after it went live, may follow its swap with one of its own.
    seen = [k for i, k in enumerate(seen) if not (k is SwapDone and seen[i - 1] is SwapDone)]
    assert seen == order, kinds
    assert run.outcome == "new model shown", report
    assert report["false_alarms_before_drift"] == 0
    assert options.day_s <= report["alarm"]["stream_s"] <= options.night_complete_s + 5
    assert report["job"]["state"] == "succeeded"
    assert report["job"]["message"].endswith("stopped by the operator after round 2")
    rounds = report["job"]["rounds"]
    assert [(r["round"], r["model"]) for r in rounds] == [(1, "2"), (2, "3")]
    assert 0 < rounds[0]["approval_to_live_wall_s"] < rounds[1]["approval_to_live_wall_s"]

    swaps = report["swaps"]
    assert [s["version"] for s in swaps] == [s.event.swap.new_version for s in accepted_swaps(run)]
    for swap in swaps:  # each swap between two neighbouring frames
        assert swap["frames_dropped_during_swap"] == 0 and swap["frames_after_swap"] > 0
    for earlier, later in itertools.pairwise(swaps):
        if later["version"] == earlier["version"]:  # the same version's int8 copy
            assert (earlier["file"], later["file"]) == ("model.onnx", "model.int8.onnx")
    versions = [r.model_version for r in run.records]
    changes = [i for i in range(1, len(versions)) if versions[i] != versions[i - 1]]
    assert len(changes) == 2
    for changed in changes:
        assert run.records[changed].index - run.records[changed - 1].index == 1
    assert report["drift_after_first_swap"]["frames"] > 0

    with Store() as store:  # the store agrees with what the stream saw
        events = store.drift_events.all()
        assert len(events) >= 1 and store.drift_events.decision(events[0].id) == "approved"
        job = store.jobs.get(report["job"]["id"])
        assert job.params["event_id"] == events[0].id
        active = camera_version(store, isolated_home)
        middle = store.models.get(active.parent_id)
        assert active.version == "3" and middle.version == "2" and middle.parent_id == first.id
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
    assert [v["version"] for v in figures["versions"]] == ["1", "2", "3"]
    assert figures["versions"][-1]["night_map50"] == figures["new_night_map50"]
    json.dumps(report)  # the report is JSON as it is
