"""The capture buffer: a bounded on-disk ring of recent frames with their detections and drift
features, so that a retraining has the drifted frames to learn from.

It is a frame-loop consumer. Frames are handed to its own writer thread (the frame thread never
waits on disk; when the writer falls behind, frames are dropped and counted). A drift event
pins the frames of its window: pinned frames survive the ring's eviction. Each frame is a JPEG
plus a JSON sidecar written after it, so a frame whose sidecar exists is complete.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tvdesk.core import atomic
from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.features import IMAGE_FEATURES, FrameFeatures
from tvdesk.core.drift.status import DriftStatus
from tvdesk.core.session.frame_loop import FrameResult

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 2000  # frames (about 3 min at 10 fps, ~80 MB of JPEGs)
QUEUE_SIZE = 64
LOG_FAILURES_EVERY = 100  # a full disk fails every frame: log the first and every 100th
JPEG_QUALITY = 92
PINS_NAME = "pins.json"
FRAMES_FOLDER = "frames"
_STOP = object()


class CaptureError(RuntimeError):
    """Captured frames are missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class CapturedFrame:
    """One frame on disk with what the live model saw and, for synthetic frames, the truth."""

    index: int
    timestamp: float
    image: Path
    detections: Detections
    truth: tuple[np.ndarray, np.ndarray] | None  # (boxes xyxy px, class ids)
    features: dict[str, float]
    size: tuple[int, int]  # (width, height)


class CaptureBuffer:
    """Keeps the last `capacity` frames of one stream under `root`, plus every pinned frame."""

    def __init__(self, root: Path, capacity: int = DEFAULT_CAPACITY) -> None:
        self.root = root
        self.capacity = capacity
        self.dropped = 0  # frames passed over because the disk lagged
        self.failed = 0  # frames that could not be written (a full disk...)
        self._frames_dir = root / FRAMES_FOLDER
        self._frames_dir.mkdir(parents=True, exist_ok=True)
        self._pins: list[dict[str, Any]] = self._read_pins()
        self._pinned = {i for pin in self._pins for i in pin["frames"]}
        self._ring: deque[int] = deque(sorted(stored_indices(root)))
        self._features = FrameFeatures()
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tvdesk-capture")
        self._thread.start()

    def __call__(self, result: FrameResult) -> None:
        """The frame-loop consumer: queue a detected frame for writing, or drop it if the disk
        lags (a frame whose boxes are predicted is passed over: they are no detector's)."""
        if not result.detected:
            return
        try:
            self._queue.put_nowait(result)
        except queue.Full:
            self.dropped += 1

    def pin(self, event: DriftEvent) -> None:
        """Keep the frames of `event`'s window, and remember which event they belong to."""
        with self._lock:
            self._pins = [p for p in self._pins if not _same_event(p, event)]
            self._pins.append(
                {
                    "id": event.id,
                    "start": event.start,
                    "frames": sorted(int(i) for i in event.frame_indices),
                }
            )
            self._pinned = {i for pin in self._pins for i in pin["frames"]}
            atomic.write_text(self.root / PINS_NAME, json.dumps(self._pins) + "\n")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued frame is on disk."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._write(item)
            except OSError as exc:
                self.failed += 1
                if self.failed == 1 or self.failed % LOG_FAILURES_EVERY == 0:
                    logger.error(
                        "could not capture frame %d (%d failed so far): %s",
                        item.frame.index,
                        self.failed,
                        exc,
                    )

    def _write(self, result: FrameResult) -> None:
        frame = result.frame
        stem = self._frames_dir / f"{frame.index:08d}"
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"JPEG encoding failed for frame {frame.index}")
        atomic.write_bytes(stem.with_suffix(".jpg"), jpeg.tobytes())
        features = dict(zip(IMAGE_FEATURES, self._image_features(result).tolist(), strict=True))
        sidecar = _sidecar(result, features)
        atomic.write_text(stem.with_suffix(".json"), json.dumps(sidecar) + "\n")
        self._ring.append(frame.index)
        self._evict()

    def _image_features(self, result: FrameResult) -> np.ndarray:
        """The frame's image features as the drift monitor measured them (its edge recall is
        against the camera's background, which only the monitor knows), else measured here."""
        for observation in result.observations.values():
            if isinstance(observation, DriftStatus) and observation.values is not None:
                return observation.values[: len(IMAGE_FEATURES)]
        return self._features(result.frame.image)

    def _evict(self) -> None:
        with self._lock:
            while len(self._ring) > self.capacity:
                index = self._ring.popleft()
                if index in self._pinned:
                    continue
                for suffix in (".json", ".jpg"):
                    (self._frames_dir / f"{index:08d}{suffix}").unlink(missing_ok=True)

    def _read_pins(self) -> list[dict[str, Any]]:
        path = self.root / PINS_NAME
        return json.loads(path.read_text()) if path.exists() else []


def stored_indices(root: Path) -> list[int]:
    """Indices of the complete frames under a capture folder."""
    return sorted(int(p.stem) for p in (root / FRAMES_FOLDER).glob("*.json"))


def keep_frames(root: Path, indices: Iterable[int], dest: Path) -> list[int]:
    """Hard-link (or copy) the frames `indices` of the capture folder `root` into `dest`, laid
    out as a capture folder, so that a job keeps its frames whatever the ring evicts later
    (a long alarm's pin keeps only its newest frames). Returns the indices kept: a frame
    evicted before it could be linked is left out."""
    source, target = root / FRAMES_FOLDER, dest / FRAMES_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    kept = []
    for index in indices:
        # The JPEG first: the ring deletes a frame's sidecar before its JPEG, so a frame
        # whose sidecar is linked after its JPEG is complete.
        names = [f"{index:08d}{suffix}" for suffix in (".jpg", ".json")]
        try:
            for name in names:
                _link_or_copy(source / name, target / name)
        except FileNotFoundError:
            for name in names:
                (target / name).unlink(missing_ok=True)
            continue
        kept.append(index)
    return kept


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        return
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:  # another file system, or links not allowed: a copy does the same
        atomic.copy_file(source, target)


def event_frames(root: Path, event: DriftEvent) -> list[int]:
    """The pinned frames of `event` that are on disk under `root`."""
    path = root / PINS_NAME
    pins = json.loads(path.read_text()) if path.exists() else []
    wanted = {i for pin in pins if _same_event(pin, event) for i in pin["frames"]}
    if not wanted:
        wanted = set(event.frame_indices)
    return sorted(wanted & set(stored_indices(root)))


def export_frames(root: Path, event: DriftEvent, dest: Path) -> int:
    """Copy `event`'s captured frames to `dest` as plain JPEGs named by frame number, for a
    person to label in a labelling tool (an import matches its labels by these names)."""
    dest.mkdir(parents=True, exist_ok=True)
    indices = event_frames(root, event)
    for index in indices:
        _link_or_copy(root / FRAMES_FOLDER / f"{index:08d}.jpg", dest / f"{index:08d}.jpg")
    return len(indices)


def find_capture(capture_root: Path, event: DriftEvent) -> Path:
    """The capture folder (one per stream under `capture_root`) that pinned `event`."""
    for pins in sorted(capture_root.glob(f"*/{PINS_NAME}")):
        if any(_same_event(pin, event) for pin in json.loads(pins.read_text())):
            return pins.parent
    raise CaptureError(
        f"no captured frames for drift event {event.id} under {capture_root}: "
        "the frames of an event are kept only while the player captures"
    )


def load_frame(root: Path, index: int) -> CapturedFrame:
    stem = root / FRAMES_FOLDER / f"{index:08d}"
    try:
        data = json.loads(stem.with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CaptureError(f"captured frame {index} in {root} is unreadable ({exc})") from exc
    det = data["detections"]
    detections = Detections(
        np.array(det["xyxy"], np.float32).reshape(-1, 4),
        np.array(det["scores"], np.float32),
        np.array(det["class_ids"], np.int64),
        tuple(det["names"]),
    )
    truth = data.get("truth")
    return CapturedFrame(
        index,
        data["timestamp"],
        stem.with_suffix(".jpg"),
        detections,
        (
            np.array(truth["boxes"], np.float32).reshape(-1, 4),
            np.array(truth["class_ids"], np.int64),
        )
        if truth is not None
        else None,
        data["features"],
        tuple(data["size"]),
    )


def _sidecar(result: FrameResult, features: dict[str, float]) -> dict[str, Any]:
    frame, det = result.frame, result.detections
    height, width = frame.image.shape[:2]
    truth = None
    if frame.truth is not None:
        truth = {
            "boxes": np.asarray(frame.truth.boxes).tolist(),
            "class_ids": np.asarray(frame.truth.class_ids).tolist(),
        }
    return {
        "index": frame.index,
        "timestamp": frame.timestamp,
        "size": [width, height],
        "model_version": result.model_version,
        "detections": {
            "xyxy": det.xyxy.tolist(),
            "scores": det.scores.tolist(),
            "class_ids": det.class_ids.tolist(),
            "names": list(det.names),
        },
        "truth": truth,
        "features": features,
    }


def _same_event(pin: dict[str, Any], event: DriftEvent) -> bool:
    if event.id is not None and pin.get("id") is not None:
        return pin["id"] == event.id
    return pin.get("start") == event.start
