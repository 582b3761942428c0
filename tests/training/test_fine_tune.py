"""Fine-tuning options on a tiny real training: a frozen backbone changes the neck and head
only; a time budget, not the epoch count, decides how long a retraining trains."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

pytest.importorskip("ultralytics", reason="training needs the 'train' extra")

BACKBONE_LAYERS = 10  # YOLOv8: model.0 ... model.9


def _parameters(weights) -> dict:
    import torch

    model = torch.load(weights, map_location="cpu", weights_only=False)["model"].float()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _in_backbone(name: str) -> bool:
    return int(name.split(".")[1]) < BACKBONE_LAYERS


@pytest.mark.slow
def test_a_frozen_fine_tune_keeps_the_backbone_and_trains_the_head(tmp_path, monkeypatch):
    from tvdesk.training.trainer import TrainParams, train

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    data = write_dataset(tmp_path / "ds", DatasetSpec(train=8, val=4, width=256, height=144))
    tiny = dict(epochs=1, imgsz=64, batch=4, threads=1, workers=0)
    start = train(data, tmp_path / "start", TrainParams(**tiny)).best_weights
    tuned = train(
        data,
        tmp_path / "tuned",
        TrainParams(start_from=str(start), freeze=BACKBONE_LAYERS, warmup_epochs=0.0, **tiny),
    ).best_weights

    before, after = _parameters(start), _parameters(tuned)
    assert before.keys() == after.keys()
    moved = {
        name: float((after[name] - before[name]).abs().max())
        for name in before
        if before[name].numel()
    }
    backbone = [m for name, m in moved.items() if _in_backbone(name)]
    rest = [m for name, m in moved.items() if not _in_backbone(name)]
    assert backbone and rest
    # Checkpoints hold float16 values; a parameter nothing updated comes back bit for bit.
    assert max(backbone) == 0.0
    assert sum(m > 0.0 for m in rest) > len(rest) // 2  # the neck and head did learn (88 of 103)


@pytest.mark.slow
def test_a_time_budget_fits_the_epochs_to_the_time(tmp_path, monkeypatch):
    from tvdesk.training.trainer import TrainParams, train

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    data = write_dataset(tmp_path / "ds", DatasetSpec(train=8, val=4, width=256, height=144))
    budget_s = 12.0
    params = TrainParams(
        epochs=2, minutes=budget_s / 60, rect=True, imgsz=64, batch=4, threads=1, workers=0
    )
    started = time.monotonic()
    result = train(data, tmp_path / "timed", params)
    took = time.monotonic() - started
    assert result.epochs_run > 2  # the two planned epochs were only the first estimate
    assert budget_s <= took <= budget_s + 45  # the budget, plus set-up and final validation


@pytest.mark.slow
def test_a_nominal_batch_of_one_batch_updates_the_weights_after_every_batch(tmp_path, monkeypatch):
    from tvdesk.training.trainer import TrainParams, train

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    data = write_dataset(tmp_path / "ds", DatasetSpec(train=16, val=4, width=256, height=144))
    tiny = dict(epochs=2, imgsz=64, batch=4, threads=1, workers=0, warmup_epochs=0.0)
    # Ultralytics' default accumulates 64 images' gradients (16 batches of 4), at most as many
    # as the run has: one update at the end of the 8 batches of the two epochs.
    default = train(data, tmp_path / "default", TrainParams(**tiny))
    stepped = train(data, tmp_path / "stepped", TrainParams(nominal_batch=4, **tiny))
    assert default.weight_updates == 1
    assert stepped.weight_updates == 8  # one per batch


def _score_biases(weights) -> np.ndarray:
    """The class-score biases of the three detection levels, one row per level."""
    parameters = _parameters(weights)
    rows = [v for name, v in parameters.items() if ".cv3." in name and name.endswith(".2.bias")]
    return np.stack([row.numpy() for row in rows])


@pytest.mark.slow
def test_a_class_weighted_zero_keeps_its_scores_and_a_later_fine_tune_does_not_inherit_it(
    tmp_path, monkeypatch
):
    """Weight 0 leaves a class out of the class loss: its score biases come back bit for bit
    (AdamW moves nothing without a gradient, and biases have no weight decay) while the other
    classes' move. The weights ride in the checkpoint, so a fine-tune from it without any
    must clear them: there the class learns again."""
    from tvdesk.training.trainer import TrainParams, train

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    data = write_dataset(tmp_path / "ds", DatasetSpec(train=8, val=4, width=256, height=144))
    tiny = dict(epochs=1, imgsz=64, batch=4, threads=1, workers=0, warmup_epochs=0.0)
    start = train(data, tmp_path / "start", TrainParams(**tiny)).best_weights
    classes = _score_biases(start).shape[1]
    left_out = (0.0,) + (1.0,) * (classes - 1)
    weighted = train(
        data,
        tmp_path / "weighted",
        TrainParams(start_from=str(start), class_weights=left_out, nominal_batch=4, **tiny),
    ).best_weights
    before, after = _score_biases(start), _score_biases(weighted)
    assert (after[:, 0] == before[:, 0]).all()
    assert (after[:, 1:] != before[:, 1:]).any()
    again = train(
        data, tmp_path / "again", TrainParams(start_from=str(weighted), nominal_batch=4, **tiny)
    ).best_weights
    assert (_score_biases(again)[:, 0] != after[:, 0]).any()
