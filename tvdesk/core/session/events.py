"""What a live session tells its subscribers, as immutable values that can cross threads:
alarms raised and ended, jobs queued, models promoted and swapped, baselines learnt, low disk
space, errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tvdesk.core.detector import SwapEvent
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.store.camera import Camera
from tvdesk.core.store.job import Job
from tvdesk.core.store.model_version import ModelVersion

LABELER_WORDS = {
    "oracle": "oracle: the synthetic camera's exact labels, a simulated annotator",
    "teacher": "teacher: the traffic model run the expensive way, confident boxes only",
    "import": "imported from an annotation tool",
    "review": "you review them in the label dialog",
}


@dataclass(frozen=True)
class RetrainPlan:
    """What Approve would start, in the operator's terms."""

    labeler: str
    frames: int
    epochs: int  # 0: as many as fit in `train_minutes`
    imgsz: int
    expected_seconds: float
    train_minutes: float = 0.0
    refine_minutes: float = 0.0  # 0: the job ends after its first promotion
    round_minutes: float = 0.0
    round_min_gain: float = 0.0

    def describe(self) -> str:
        minutes = max(1, round(self.expected_seconds / 60))
        who = LABELER_WORDS.get(self.labeler, self.labeler)
        training = f"{self.epochs} epochs" if self.epochs else f"{self.train_minutes:g} min"
        first = (
            f"label {self.frames} frames ({who}), fine-tune {training} at "
            f"{self.imgsz} px: about {minutes} min"
        )
        if not self.refine_minutes:
            return first
        return (
            f"{first}. Then it goes on in rounds while the condition holds: new frames, "
            f"labelled the same way, {self.round_minutes:g} min of fine-tuning from the last "
            "version swapped in, the same gate; it stops when a round gains under "
            f"{self.round_min_gain:g} mAP50, after {self.refine_minutes:g} min of fine-tuning "
            "in all, when the condition ends, or when you stop it (the last swapped-in "
            "version stays)"
        )


@dataclass(frozen=True)
class AlarmRaised:
    event: DriftEvent  # as stored (with its id)
    samples: tuple[Path, ...]  # JPEGs of frames from the drift window
    plan: RetrainPlan | None  # None when this session cannot queue retrainings
    camera: Camera | None = None


@dataclass(frozen=True)
class AlarmEnded:
    event: DriftEvent


@dataclass(frozen=True)
class JobQueued:
    job: Job
    queue: str


@dataclass(frozen=True)
class ModelPromoted:
    """The camera's active version changed; the slot swaps to it (see `SwapDone`)."""

    version: ModelVersion
    previous: ModelVersion | None


@dataclass(frozen=True)
class SwapDone:
    swap: SwapEvent


@dataclass(frozen=True)
class BaselineLearnt:
    """The camera's own normal was learnt (and persisted): drift is tested from now on."""

    camera: Camera
    seconds: float


@dataclass(frozen=True)
class SessionError:
    message: str  # a sentence for the operator


@dataclass(frozen=True)
class DiskSpaceLow:
    """The data folder's disk fell below twice `min_free_mb`: recording goes on, for now."""

    message: str  # a sentence for the operator


LiveEvent = (
    AlarmRaised
    | AlarmEnded
    | JobQueued
    | ModelPromoted
    | SwapDone
    | BaselineLearnt
    | SessionError
    | DiskSpaceLow
)
