"""Train or fine-tune a YOLO detector with Ultralytics, reporting each epoch to a callback."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tvdesk.training.offline import ultralytics_offline

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, int, dict[str, float]], None]
StopCheck = Callable[[], bool]
# Where a stop request is looked at: after set-up, then after every batch.
STOP_CHECK_EVENTS = (
    "on_pretrain_routine_start",
    "on_pretrain_routine_end",
    "on_train_start",
    "on_train_batch_end",
    "on_val_batch_end",
)


class TrainingCancelled(Exception):  # noqa: N818 - the outcome a person asked for
    """Training was stopped on request (between two batches)."""


@dataclass(frozen=True)
class TrainParams:
    """Ultralytics training arguments that tvdesk sets; the rest keep Ultralytics' defaults."""

    start_from: str = "yolov8n.yaml"  # an architecture (from scratch) or a .pt to fine-tune
    epochs: int = 40
    # Above 0: train this long instead (Ultralytics' `time`); after the first epoch it fits
    # the number of epochs, and the learning-rate schedule, to the time left. `epochs` is then
    # only the first plan, and must be above 1: a 1-epoch plan ends before it is re-fitted.
    minutes: float = 0.0
    imgsz: int = 320
    batch: int = 16
    # Images per weight update: Ultralytics accumulates gradients up to 64 by default, so at
    # batch 16 the weights move once every 4 batches. 0 = that default.
    nominal_batch: int = 0
    patience: int = 100
    seed: int = 0
    workers: int = 2
    device: str = "cpu"
    threads: int = 0  # torch CPU threads; 0 = all cores (Ultralytics alone would leave one idle)
    freeze: int = 0  # the first layers kept as they are (10 = YOLOv8's backbone)
    warmup_epochs: float = 3.0  # Ultralytics' learning-rate warm-up (its default)
    optimizer: str = "auto"  # "auto" lets Ultralytics choose the optimizer and ignore lr0
    lr0: float = 0.01  # initial learning rate (Ultralytics' default; used unless optimizer is auto)
    # Batches letterboxed to the images' own shape (320x192 for 16:9 frames, not 320x320:
    # 40 % less compute per image). Ultralytics then leaves out mosaic, which a fine-tune on
    # one camera's frames does not need; with one aspect ratio it still shuffles.
    rect: bool = False
    # Random rescaling of each training image, +-50 % by Ultralytics' default; one fixed
    # camera sees each vehicle at the size its place on the road gives it.
    scale: float = 0.5
    # Per class, how much its scores count in the class loss (Ultralytics' `class_weights`);
    # 0 leaves a class's scores out of the fine-tune. None: every class counts fully.
    class_weights: tuple[float, ...] | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    best_weights: Path
    run_dir: Path
    epochs_run: int
    weight_updates: int  # optimizer steps taken (the EMA counts them)


def train(
    data_yaml: Path,
    work_dir: Path,
    params: TrainParams,
    on_epoch: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
    resume: Path | None = None,
) -> TrainResult:
    """Run Ultralytics training into `work_dir`; returns the best checkpoint.

    With `resume` (an interrupted run's last.pt) the run continues where it stopped, in its
    own folder with its own arguments; only `params.threads` applies anew.

    `should_stop` is asked after set-up and after every training and validation batch; when
    it says yes, training ends at once with `TrainingCancelled`.
    """
    yolo = ultralytics_offline().YOLO(str(resume) if resume else params.start_from)
    yolo.add_callback("on_pretrain_routine_start", lambda _: _set_threads(params.threads))
    yolo.add_callback(
        "on_pretrain_routine_end", lambda trainer: _set_class_weights(trainer, params.class_weights)
    )
    if should_stop:
        for event in STOP_CHECK_EVENTS:
            yolo.add_callback(event, lambda _: _stop_if(should_stop))
    if on_epoch:
        yolo.add_callback(
            "on_fit_epoch_end",
            lambda trainer: on_epoch(trainer.epoch + 1, trainer.epochs, _epoch_metrics(trainer)),
        )
    if resume:
        yolo.train(resume=True)
    else:
        yolo.train(
            data=str(data_yaml),
            epochs=params.epochs,
            time=params.minutes / 60 if params.minutes > 0 else None,
            imgsz=params.imgsz,
            batch=params.batch,
            **({"nbs": params.nominal_batch} if params.nominal_batch else {}),
            patience=params.patience,
            freeze=params.freeze,
            warmup_epochs=params.warmup_epochs,
            optimizer=params.optimizer,
            lr0=params.lr0,
            rect=params.rect,
            scale=params.scale,
            seed=params.seed,
            deterministic=True,
            workers=params.workers,
            device=params.device,
            project=str(work_dir.resolve()),
            name="train",
            exist_ok=True,
            plots=False,
            amp=False,
            verbose=False,
        )
    trainer = yolo.trainer
    best = Path(trainer.best if Path(trainer.best).exists() else trainer.last)
    return TrainResult(
        best_weights=best,
        run_dir=Path(trainer.save_dir),
        epochs_run=trainer.epoch + 1,
        weight_updates=trainer.ema.updates if trainer.ema else 0,
    )


def _stop_if(should_stop: StopCheck) -> None:
    if should_stop():
        raise TrainingCancelled("training was cancelled")


def _set_class_weights(trainer, weights: tuple[float, ...] | None) -> None:
    """Give the class loss these per-class weights, or none. Always set: a checkpoint keeps
    the weights it was trained with, so a model fine-tuned from it would inherit them."""
    import torch
    from ultralytics.utils.torch_utils import unwrap_model

    value = None if weights is None else torch.tensor(weights, device=trainer.device)
    for model in (unwrap_model(trainer.model), trainer.ema.ema if trainer.ema else None):
        if model is None:
            continue
        model.class_weights = value
        model.criterion = None  # built again, with these weights, at its first loss


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


def _epoch_metrics(trainer) -> dict[str, float]:
    """Losses and validation metrics of the epoch that just ended, as plain floats."""
    values = {}
    if trainer.tloss is not None:
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        values.update({k: float(v) for k, v in losses.items()})
    values.update({k: float(v) for k, v in (trainer.metrics or {}).items()})
    return values
