"""One camera playing: its monitor, counting, capture ring and recorder, and the bookkeeping of
its drift alarms (saved when raised and when they settle, their frames pinned in the capture
while they hold, so that a retraining has all of them to choose from)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tvdesk.core.drift import DriftMonitor
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.capture import CaptureBuffer
from tvdesk.core.session.counting import CameraCounting
from tvdesk.core.session.normal_frames import NormalFrames
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.sources import SourceInfo
from tvdesk.core.store import Camera, Store

SAMPLE_FRAMES = 6  # frames of the drift window shown with an alarm
SAMPLE_WAIT_S = 3.0  # how long an alarm waits for its sample frames to reach the disk
PIN_EVERY_FRAMES = 10  # while an alarm holds, its pin grows this many frames at a time
MAX_PINNED_FRAMES = 1000  # the newest frames of one alarm kept for its retraining


@dataclass
class CameraStream:
    """What a live session keeps for the camera playing now (read it, do not change it)."""

    info: SourceInfo
    camera: Camera
    monitor: DriftMonitor
    capture: CaptureBuffer
    recorder: SessionRecorder
    counting: CameraCounting
    normal: NormalFrames | None = None  # a real camera's normal frames, kept while it learns
    holding: DriftEvent | None = None  # the alarm in progress, as stored
    alarm_frames: list[int] = field(default_factory=list)  # its frames so far

    def alarm_raised(self, store: Store, event: DriftEvent) -> DriftEvent:
        """Save a new alarm and pin its frames; returns it as stored (with its id)."""
        saved = store.drift_events.save(event, self.recorder.session_id)
        self.capture.pin(saved)
        self.holding, self.alarm_frames = saved, list(saved.frame_indices)
        return saved

    def alarm_frame(self, index: int) -> None:
        """One more frame of the alarm that holds (the pin file is rewritten once a second)."""
        if self.holding is None:
            return
        self.alarm_frames.append(index)
        if len(self.alarm_frames) % PIN_EVERY_FRAMES == 0:
            frames = tuple(self.alarm_frames[-MAX_PINNED_FRAMES:])
            self.capture.pin(replace(self.holding, frame_indices=frames))

    def alarm_ended(self, store: Store, event: DriftEvent) -> DriftEvent:
        """Save the settled alarm with every frame it pinned while it held."""
        if self.holding is not None:
            seen = sorted({*self.alarm_frames, *event.frame_indices})[-MAX_PINNED_FRAMES:]
            event = replace(event, frame_indices=tuple(seen))
        self.holding, self.alarm_frames = None, []
        saved = store.drift_events.save(event, self.recorder.session_id)
        self.capture.pin(saved)
        return saved

    def samples(self, event: DriftEvent) -> tuple[Path, ...]:
        """Up to SAMPLE_FRAMES JPEGs spread over the event's frames, once they are on disk."""
        indices = list(event.frame_indices)
        if not indices:
            return ()
        spread = np.linspace(0, len(indices) - 1, min(SAMPLE_FRAMES, len(indices))).round()
        wanted = [indices[int(i)] for i in spread]
        self.capture.flush(SAMPLE_WAIT_S)
        paths = (self.capture.root / "frames" / f"{i:08d}.jpg" for i in wanted)
        return tuple(p for p in paths if p.exists())


def capture_folder_name(camera: Camera) -> str:
    """A folder name for a camera's capture (its id and name, flattened)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", camera.name).strip("_")[:60] or "camera"
    return f"{camera.id}-{name}"
