"""A retraining job as a training worker on another machine sees it.

`RemoteContext` is a `JobContext` without a store: its settings, camera and parent version
come from the payload's manifest, its files from the payload laid out in its work folder, and
everything a stage writes (its stage, progress, results) goes to the app as an event through
an `EventSink`, which also says when the app asked the job to stop. The stages themselves
(`stages.train`, `stages.evaluate`, `stages.export_candidate`) run unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from tvdesk.config import RetrainSettings
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.registry import ONNX_NAME
from tvdesk.core.store import Camera
from tvdesk.core.store.camera import DetectionSettings
from tvdesk.core.store.job import Job, JobState
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.retrain.context import CHECK_INTERVAL_S, KIND, JobContext, JobStopped
from tvdesk.retrain.remote.payload import PARENT

# Result values that are paths on the worker: the app gets the files themselves instead.
WORKER_PATHS = ("candidate_pt", "data_yaml", "base_yaml")


class EventSink(Protocol):
    """Where a remote job's events go, and whether the app wants it stopped."""

    def post(self, kind: str, **data: Any) -> None: ...

    def stop_requested(self) -> bool: ...


class RemoteContext(JobContext):
    """Job `manifest["job"]["id"]` of the app, run in `workspace` on this machine."""

    def __init__(
        self, manifest: dict[str, Any], workspace: Path, sink: EventSink, result: dict[str, Any]
    ) -> None:
        # Not JobContext.__init__: there is no store here; the attributes are the same.
        self.store = None  # type: ignore[assignment]
        self.data_dir = workspace
        self.workspace = workspace
        self.id = int(manifest["job"]["id"])
        self.stage = ""
        self._checked = 0.0
        self._stop = False
        self.manifest = manifest
        self.settings = RetrainSettings.from_dict(manifest["settings"])
        self.sink = sink
        self._result = dict(result)
        self.finished: tuple[str, dict[str, Any]] | None = None

    @property
    def job(self) -> Job:
        job = self.manifest["job"]
        params = {"event_id": job["event_id"], "camera_id": job["camera"]["id"]}
        state = JobState.SUCCEEDED if self.finished else JobState.RUNNING
        return Job(KIND, state, self.stage, params=params, result=dict(self._result), id=self.id)

    def begin(self, stage: str) -> None:
        self.checkpoint(force=True)
        self.stage = stage
        self.sink.post("stage", stage=stage)

    def progress(self, fraction: float, message: str | None = None) -> None:
        self.sink.post("progress", fraction=fraction, message=message)
        self.checkpoint(force=True)

    def cancel_requested(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not self._stop and (force or now - self._checked >= CHECK_INTERVAL_S):
            self._checked = now
            self._stop = self.sink.stop_requested()
        return self._stop

    def remember(self, **values: Any) -> None:
        self._result.update(values)
        shared = {k: v for k, v in values.items() if k not in WORKER_PATHS}
        if shared:
            self.sink.post("remember", values=shared)

    def finish(self, message: str, **values: Any) -> None:
        """The job ends here: the app records it."""
        self._result.update(values)
        self.finished = (message, values)
        self.sink.post("finished", message=message, values=values)

    def round_ends_elsewhere(self) -> bool:
        """The gate kept the active model: the app ends the round (it holds the job's rounds,
        and an operator's "stop after this round"), and goes on with the next or ends the
        job; the worker stops here."""
        self.sink.post("kept", round=self.round)
        raise JobStopped(f"job {self.id}: round {self.round} kept the active model")

    def fail(self, error: BaseException) -> None:
        self.sink.post("failed", stage=self.stage, message=str(error) or type(error).__name__)

    def drift_event(self) -> DriftEvent:
        raise RuntimeError("the drift event stays on the app's machine: no stage here needs it")

    def camera(self) -> Camera:
        camera = self.manifest["job"]["camera"]
        detection = DetectionSettings(imgsz=camera["imgsz"])
        kind, line = camera["kind"], camera["line"]
        model_id = self._parent().id
        return Camera(
            camera["name"], "", "", kind, line, model_id, detection=detection, id=camera["id"]
        )

    def active_version(self) -> ModelVersion:
        return self._parent()

    def parent_version(self) -> ModelVersion:
        return self._parent()

    def _parent(self) -> ModelVersion:
        """The version the fine-tune starts from: its weights are `parent/model.pt` here."""
        parent = self.manifest["parent"]
        path = self.workspace / PARENT / ONNX_NAME  # pt_path() looks beside it
        return ModelVersion(parent["name"], parent["version"], path, id=int(parent["id"]))
