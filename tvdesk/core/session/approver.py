"""What a live session needs from whoever queues retrainings: a typed protocol, so the core
knows no queue and no training (`jobs.retraining.RetrainApprover` is the real one)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.events import RetrainPlan
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.job import Job


class Approval(Protocol):
    """A queued retraining: its job and where it was queued (a Redis URL is masked)."""

    job: Job
    queue: str


class Approver(Protocol):
    """Plans and queues the retraining of a camera's drift event."""

    def plan(self, camera: Camera | None, frames_available: int | None = None) -> RetrainPlan:
        """What approving a drift event of `camera` would start, for the alarm banner."""
        ...

    def approve(
        self,
        store: Store,
        event: DriftEvent,
        capture_dir: Path,
        camera: Camera,
        labels: str | None = None,
    ) -> Approval:
        """Record and queue the job (labelled from `labels`, a labelling tool's export, when
        given); raises with a sentence when it cannot."""
        ...
