"""Records a frame loop's run in the store: the session, per-second stats, sampled detection
summaries and drift events, all through the batched writer so the loop never waits on disk.

Drift events are found in the observers' answers: any answer carrying a `raised` or `ended`
`DriftEvent` (as the drift monitor's status does) is saved. A write the writer could not make
stops the run (a `StoreError` from the next frame): a recording is never silently lost.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.frame_loop import FrameResult, LoopOutcome
from tvdesk.core.sources import SourceInfo
from tvdesk.core.store import Store, StoreError, StoreWriter

SAMPLE_EVERY_S = 1.0  # stream seconds between stored detection summaries: 3600 rows per hour
STAGES = ("capture_ms", "preprocess_ms", "inference_ms", "postprocess_ms", "total_ms", "latency_ms")


@dataclass
class _Second:
    """The frames of one wall-clock second, summed until the second is over."""

    second: int
    dropped_before: int
    frames: int = 0
    detections: int = 0
    max_latency_ms: float = 0.0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        self.detections += len(result.detections)
        self.max_latency_ms = max(self.max_latency_ms, result.stats.latency_ms)
        for stage in STAGES:
            self.sums[stage] += getattr(result.stats, stage)

    def row(self, session_id: int, dropped_now: int) -> dict:
        means = {stage: total / self.frames for stage, total in self.sums.items()}
        return {
            "session_id": session_id,
            "second": self.second,
            "frames": self.frames,
            "dropped": dropped_now - self.dropped_before,
            "detections": self.detections,
            "max_latency_ms": self.max_latency_ms,
            **means,
        }


class SessionRecorder:
    """A frame consumer that writes one session. Call `finish` with the loop's outcome."""

    def __init__(
        self,
        store: Store,
        writer: StoreWriter,
        source: SourceInfo,
        model_version: str,
        sample_every_s: float = SAMPLE_EVERY_S,
        camera_id: int | None = None,
    ) -> None:
        self.writer = writer
        self.sample_every_s = sample_every_s
        self.session_id = store.sessions.start(source.name, source.kind, model_version, camera_id)
        self._bucket: _Second | None = None
        self._next_sample: float | None = None
        self._dropped = 0
        self._lost_before = writer.lost

    def check_written(self) -> None:
        """Raise StoreError, saying what the database kept, if a write of this session failed."""
        if self.writer.lost > self._lost_before:
            raise StoreError(f"session {self.session_id} stopped: {self.writer.failure()}")

    def __call__(self, result: FrameResult) -> None:
        self.check_written()
        second = int(time.time())
        if self._bucket is None or self._bucket.second != second:
            self._close_bucket()
            self._bucket = _Second(second, self._dropped)
        self._bucket.add(result)
        self._dropped = result.stats.dropped
        if self._due_for_sample(result.frame.timestamp):
            self.writer.insert("detection_samples", _summary(self.session_id, result))
        for answer in result.observations.values():
            for event in (getattr(answer, "raised", None), getattr(answer, "ended", None)):
                if isinstance(event, DriftEvent):
                    self.record_drift_event(event)

    def record_drift_event(self, event: DriftEvent) -> None:
        """Save a raised alarm, or its update when it settles (matched by its start)."""
        session_id = self.session_id
        self.writer.call(lambda store: store.drift_events.save(event, session_id))

    def finish(self, outcome: LoopOutcome) -> None:
        """Write the last second and close the session with how the run ended."""
        self._close_bucket()
        message = str(outcome.error) if outcome.error else ""
        session_id = self.session_id
        self.writer.call(
            lambda store: store.sessions.end(
                session_id, outcome.reason, outcome.frames, outcome.dropped, message
            )
        )

    def _close_bucket(self) -> None:
        if self._bucket is not None and self._bucket.frames:
            self.writer.insert("frame_stats", self._bucket.row(self.session_id, self._dropped))
        self._bucket = None

    def _due_for_sample(self, stream_time: float) -> bool:
        """One sample per `sample_every_s` of stream time; a jump back (seek, loop) restarts."""
        if self._next_sample is None or stream_time < self._next_sample - self.sample_every_s:
            self._next_sample = stream_time
        if stream_time < self._next_sample:
            return False
        self._next_sample = stream_time + self.sample_every_s
        return True


def _summary(session_id: int, result: FrameResult) -> dict:
    detections = result.detections
    return {
        "session_id": session_id,
        "frame_index": result.frame.index,
        "stream_time": result.frame.timestamp,
        "wall_time": time.time(),
        "model_version": result.model_version,
        "count": len(detections),
        "mean_confidence": float(detections.scores.mean()) if len(detections) else None,
        "counts": json.dumps(detections.counts_by_name()),
    }
