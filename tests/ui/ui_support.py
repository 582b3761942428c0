"""What the UI tests build their inputs from: frame results of rendered synthetic frames, a
drift monitor's real statuses on a day -> night stream, captured frames on disk, and a timer
that measures how late the GUI event loop runs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from media import capture_stream

from bench.event_loop import LatenessProbe  # noqa: F401 - the tests use it from here
from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift import DriftMonitor
from tvdesk.core.registry import version_profile
from tvdesk.core.session.capture import CaptureBuffer
from tvdesk.core.session.frame_loop import FrameResult, FrameStats
from tvdesk.core.sources import Frame, SyntheticSource
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.core.synth import SyntheticCamera
from tvdesk.core.synth.camera import Scenario, Segment
from tvdesk.core.synth.dataset import CLASS_NAMES

DAY_NIGHT = Scenario("ui day-night", (Segment("day", 20.0), Segment("night", 15.0)))


def bundled_profile(bundled_model: Path):
    return version_profile(ModelVersion("tvdesk-base", "0", bundled_model))


def frame_result(image: np.ndarray, detections: Detections, status, index: int, t: float):
    frame = Frame(image, index, t, time.monotonic(), 1.0)
    stats = FrameStats(1.0, 1.0, 10.0, 1.0, 13.0, 15.0, 10.0, 0)
    return FrameResult(frame, detections, stats, "tvdesk-base", {"drift": status})


def truth_detections(truth) -> Detections:
    """The rendered frame's exact boxes as detections (score 0.9): what a good model sees."""
    boxes = np.asarray(truth.boxes, np.float32).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9, np.float32)
    return Detections(boxes, scores, np.asarray(truth.class_ids, np.int64), CLASS_NAMES)


def day_night_results(bundled_model: Path, fps: float = 2.0) -> tuple[DriftMonitor, list]:
    """A real monitor on the bundled profile fed a rendered day -> night stream."""
    monitor = DriftMonitor(bundled_profile(bundled_model))
    camera = SyntheticCamera(DAY_NIGHT, fps=fps, width=320, height=180)
    results = []
    for index, frame in enumerate(camera):
        t = index / fps
        detections = truth_detections(frame.truth)
        status = monitor.update(frame.image, detections, t)
        results.append(frame_result(frame.image, detections, status, index, t))
    return monitor, results


def capture_frames(model: Path, root: Path, frames: int) -> CaptureBuffer:
    """Run the synthetic day camera through the real loop into a capture buffer at `root`."""
    source = SyntheticSource("day", fps=2.0, size=(320, 180), paced=False)
    return capture_stream(source, model, root, frames, threads=1)


def write_720p_clip(source: Path, target: Path, frames: int = 150) -> Path:
    """`source` re-encoded at 1280x720 (the real footage, upscaled), `frames` frames long."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 12.5
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    written = 0
    while written < frames:
        ok, image = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(image, (1280, 720), interpolation=cv2.INTER_LINEAR))
        written += 1
    capture.release()
    writer.release()
    assert written == frames, f"{source} gave only {written} frames"
    return target


def cpu_contention(seconds: float = 0.5) -> float:
    """How much longer than its CPU time a busy loop on this thread takes now: about 1 with a
    core to spare, more when other processes keep every core busy."""
    wall, cpu = time.perf_counter(), time.thread_time()
    while time.thread_time() - cpu < seconds:
        sum(range(1000))
    return (time.perf_counter() - wall) / (time.thread_time() - cpu)
