"""The job: one background task (e.g. a retraining) as the GUI, the CLI and the worker see it.

Job state and progress live in the store, so every process sees the same truth and a crash
or restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job is in its life: queued -> running -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Job:
    """A snapshot of a job. `stage` names the step (e.g. "train"); `progress` is 0..1 overall."""

    kind: str  # e.g. "retrain"
    state: JobState = JobState.QUEUED
    stage: str = ""
    progress: float = 0.0
    message: str = ""  # a sentence for the operator: what is happening, or what went wrong
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0  # time.time() values; None until the moment has come
    started: float | None = None
    updated: float | None = None
    finished: float | None = None
    id: int | None = field(default=None, compare=False)  # set by the store
