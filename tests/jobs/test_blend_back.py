"""A fine-tune that gained is measured blended back towards the active model's weights, and
the best of what the gate passes (drifted plus base mAP50; with teacher labels one blend
step at most) is promoted: real checkpoints, real Ultralytics evaluation, in-process stages."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from retrain_support import synthetic_camera, tiny_settings

from tvdesk.core.registry import Registry, pt_path
from tvdesk.core.store import Store
from tvdesk.retrain import stages
from tvdesk.retrain.context import JobContext, JobStopped, request_retrain
from tvdesk.training.blend import blend_checkpoints


@pytest.fixture
def evaluating(isolated_home, captured, base_yaml, bundled_model):
    """A job at its evaluate stage with the bundled model active (it detects the base
    images' vehicles at 320 px, which the tiny model does not) and a candidate that has
    forgotten them; a function of the gate's settings."""
    with Store() as store:
        camera = synthetic_camera(store, isolated_home, bundled_model)
        active = Registry(store, isolated_home).version_of(camera)
        session_id = store.sessions.start(camera.source, camera.kind, "1", camera.id)
        event = store.drift_events.save(replace(captured[1], id=None), session_id)

        def make(**gate) -> JobContext:
            settings = tiny_settings(base_yaml, imgsz=320, **gate)
            job = request_retrain(store, event, captured[0], settings)
            ctx = JobContext(store, isolated_home, job.id)
            ctx.begin("evaluate")
            ctx.remember(
                parent_id=active.id,
                data_yaml=str(base_yaml),  # the drifted set does not matter here
                base_yaml=str(base_yaml),
                candidate_pt=str(_forgetful_copy(pt_path(active), ctx.workspace / "cand.pt")),
            )
            return ctx

        yield make


def _state(path) -> dict:
    return torch.load(path, weights_only=False)["model"].float().state_dict()


def _forgetful_copy(pt, out):
    """The checkpoint with every convolution weight scrambled: it has forgotten the base."""
    checkpoint = torch.load(pt, weights_only=False)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, value in checkpoint["model"].named_parameters():
            if name.endswith("conv.weight"):
                value.copy_(torch.randn(value.shape, generator=generator).to(value.dtype) * 0.05)
    torch.save(checkpoint, out)
    return out


def test_a_blend_lies_between_its_two_checkpoints(tiny_model, tmp_path):
    start = tiny_model.with_suffix(".pt")
    tuned = _forgetful_copy(start, tmp_path / "tuned.pt")
    a, b = _state(start), _state(tuned)
    for weight, expected in ((0.0, a), (1.0, b)):
        blended = _state(blend_checkpoints(start, tuned, weight, tmp_path / f"w{weight}.pt"))
        for key in a:
            torch.testing.assert_close(blended[key], expected[key], atol=2e-3, rtol=1e-3)
    half = _state(blend_checkpoints(start, tuned, 0.5, tmp_path / "half.pt"))
    key = next(k for k in a if k.endswith("conv.weight"))
    torch.testing.assert_close(half[key], (a[key] + b[key]) / 2, atol=2e-3, rtol=1e-3)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        blend_checkpoints(start, tuned, 1.5, tmp_path / "bad.pt")


def test_a_fine_tune_that_forgot_is_promoted_as_the_blend_the_gate_passes(evaluating, monkeypatch):
    # Any drifted gain will do; the base data must not get worse at all. The scrambled
    # candidate fails that, and so does a half blend; the blend that is all active model
    # passes it exactly.
    monkeypatch.setattr(stages, "BLEND_WEIGHTS", (0.5, 0.0))
    ctx = evaluating(min_gain=-1.0, max_base_loss=0.0)
    stages.evaluate(ctx)

    result, metrics = ctx.result, ctx.result["metrics"]
    assert metrics["active"]["base"]["map50"] > 0.3  # the bundled model sees these vehicles
    assert metrics["fine_tune"]["base"]["map50"] < metrics["active"]["base"]["map50"]
    assert [(b["weight"], b["promote"]) for b in result["blends"]] == [(0.5, False), (0.0, True)]
    assert result["gate"]["promote"] and result["blend_weight"] == 0.0
    assert "blended 0% with the active model's weights (alone it lost" in result["gate"]["reason"]
    assert result["candidate_pt"].endswith("blend-0.0.pt")
    assert metrics["candidate"]["base"] == metrics["active"]["base"]


def test_no_blend_passing_keeps_the_active_model(evaluating, monkeypatch):
    monkeypatch.setattr(stages, "BLEND_WEIGHTS", (0.9,))
    ctx = evaluating(min_gain=-1.0, max_base_loss=-1.0)  # nothing can pass
    with pytest.raises(JobStopped, match="kept the active model: the candidate loses"):
        stages.evaluate(ctx)
    assert [b["promote"] for b in ctx.result["blends"]] == [False]
    assert "blend_weight" not in ctx.result


def test_a_blend_better_than_a_passing_fine_tune_is_promoted_and_worse_ones_end_the_search(
    evaluating, monkeypatch
):
    # Everything passes this gate, the scrambled fine-tune too; the blend that is all active
    # model scores higher on drifted plus base and is promoted. The half blend after it
    # scores lower, so the 90 % one is never measured.
    monkeypatch.setattr(stages, "BLEND_WEIGHTS", (0.0, 0.5, 0.9))
    ctx = evaluating(min_gain=-1.0, max_base_loss=1.0)
    stages.evaluate(ctx)

    result, metrics = ctx.result, ctx.result["metrics"]
    assert [b["weight"] for b in result["blends"]] == [0.0, 0.5]
    assert all(b["promote"] for b in result["blends"])
    assert result["blends"][1]["base_map50"] < result["blends"][0]["base_map50"] - 0.01
    assert result["gate"]["promote"] and result["blend_weight"] == 0.0
    assert "blended 0% with the active model's weights (alone: drifted" in result["gate"]["reason"]
    assert metrics["candidate"]["base"] == metrics["active"]["base"]
    assert metrics["fine_tune"]["base"]["map50"] < metrics["active"]["base"]["map50"]


def test_with_teacher_labels_one_blend_is_measured_and_the_first_passing_blend_wins(
    evaluating, monkeypatch
):
    # The teacher's val split rewards every step towards the active model, so it is asked
    # about one step only: a fine-tune that passes is measured against its first blend and the
    # better is promoted (here the blend that is all active model); no blend after it is tried.
    monkeypatch.setattr(stages, "BLEND_WEIGHTS", (0.0, 0.5))
    passing = evaluating(min_gain=-1.0, max_base_loss=1.0, labeler="teacher")
    stages.evaluate(passing)
    assert [b["weight"] for b in passing.result["blends"]] == [0.0]
    assert passing.result["gate"]["promote"] and passing.result["blend_weight"] == 0.0
    assert "(alone: drifted" in passing.result["gate"]["reason"]
    # One that forgot is promoted as the first blend that passes; no blend after it is tried.
    forgot = evaluating(min_gain=-1.0, max_base_loss=0.0, labeler="teacher")
    stages.evaluate(forgot)
    assert [b["weight"] for b in forgot.result["blends"]] == [0.0]
    assert forgot.result["blend_weight"] == 0.0
