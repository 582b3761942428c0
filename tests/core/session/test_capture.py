"""The capture buffer as a real frame-loop consumer: a bounded ring on disk, pinned drift
windows kept, and what each frame carries (detections, drift features, ground truth)."""

from __future__ import annotations

import shutil
import time

import cv2
import numpy as np
import pytest
from detector_support import fixed_output_model, raw_output, ultralytics_metadata

from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.drift import IMAGE_FEATURES, DriftConfig, DriftMonitor
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.capture import (
    FRAMES_FOLDER,
    CaptureBuffer,
    CaptureError,
    event_frames,
    find_capture,
    keep_frames,
    load_frame,
    stored_indices,
)
from tvdesk.core.session.frame_loop import FrameLoop
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.synth.dataset import yolo_lines
from tvdesk.core.synth.render import GroundTruth
from tvdesk.retrain.labelers import OracleLabeler

NAMES = ["car", "truck", "bus", "motorcycle"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    head = raw_output(np.array([[160.0, 160.0, 40.0, 30.0]]), np.array([[0.4, 0.0, 0.0, 0.0]]))
    folder = tmp_path_factory.mktemp("model")
    return fixed_output_model(folder / "m.onnx", [head], ultralytics_metadata(NAMES))


def _play(model, buffer, frames, observers=None):
    source = SyntheticSource("day-night", fps=1.0, size=(160, 90), paced=False)
    loop = FrameLoop(
        source,
        DetectorSlot(OnnxDetector(model)),
        observers=observers,
        consumers=[buffer],
        every_frame=True,
    )
    loop.start()
    while loop.running and loop.frames < frames:
        time.sleep(0.01)
    loop.stop(5.0)
    buffer.flush()


def test_the_ring_is_bounded_and_a_pinned_window_survives(model, tmp_path):
    buffer = CaptureBuffer(tmp_path / "cam", capacity=10)
    event = DriftEvent(
        start=5.0, drivers={"luma_mean": -9.0}, severity=2.0, frame_indices=(5, 6, 7), id=42
    )
    buffer.pin(event)
    _play(model, buffer, 30)
    buffer.close()
    kept = stored_indices(tmp_path / "cam")
    assert {5, 6, 7} <= set(kept)
    assert len(kept) <= 10 + 3 and max(kept) >= 29 - 10
    assert event_frames(tmp_path / "cam", event) == [5, 6, 7]
    assert find_capture(tmp_path, event) == tmp_path / "cam"
    with pytest.raises(CaptureError, match="no captured frames for drift event 7"):
        find_capture(tmp_path, DriftEvent(1.0, {}, 1.0, (1,), id=7))


def test_a_frame_carries_detections_features_and_truth(model, tmp_path):
    buffer = CaptureBuffer(tmp_path / "cam")
    _play(model, buffer, 3)
    buffer.close()
    frame = load_frame(tmp_path / "cam", 2)
    assert frame.image.exists() and frame.size == (160, 90)
    assert frame.detections.names == tuple(NAMES) and len(frame.detections) == 1
    assert np.isfinite(frame.features["luma_mean"])
    assert frame.truth is not None and len(frame.truth[0]) == len(frame.truth[1])
    [labelled] = OracleLabeler().label([frame])
    assert labelled.lines == tuple(yolo_lines(GroundTruth(*frame.truth), 160, 90))


def test_a_frame_keeps_the_features_the_drift_monitor_measured_on_it(model, tmp_path):
    """Edge recall needs the camera's background, which only the monitor has learnt: the
    sidecar takes the monitor's numbers, so a condition's spread can be read off the ring."""
    config = DriftConfig(baseline_seconds=600.0, background_seconds=2.0)
    seen: list[np.ndarray] = []

    class Recorded(DriftMonitor):
        def update(self, frame, detections, timestamp):
            status = super().update(frame, detections, timestamp)
            seen.append(status.values)
            return status

    buffer = CaptureBuffer(tmp_path / "cam")
    _play(model, buffer, 6, observers={"drift": Recorded(config=config)})
    buffer.close()
    frame = load_frame(tmp_path / "cam", 5)
    measured = dict(zip(IMAGE_FEATURES, seen[5][: len(IMAGE_FEATURES)], strict=True))
    assert np.isfinite(frame.features["edge_recall"])
    assert frame.features == pytest.approx(measured, nan_ok=True)

    alone = CaptureBuffer(tmp_path / "alone")  # no monitor: measured by the capture itself
    _play(model, alone, 3)
    alone.close()
    assert np.isnan(load_frame(tmp_path / "alone", 2).features["edge_recall"])


def test_a_job_keeps_its_frames_whatever_the_ring_evicts_later(model, tmp_path):
    """A long alarm's pin keeps only its newest frames, so the ring may evict frames a job has
    chosen (a real night clip at 30 fps lost 57 of 200 chosen frames before labelling)."""
    camera, job = tmp_path / "cam", tmp_path / "job"
    buffer = CaptureBuffer(camera, capacity=100)
    _play(model, buffer, 8)
    buffer.close()
    (camera / FRAMES_FOLDER / "00000003.json").unlink()  # caught half-evicted: sidecar first
    assert keep_frames(camera, range(8), job) == [0, 1, 2, 4, 5, 6, 7]
    assert not (job / FRAMES_FOLDER / "00000003.jpg").exists()
    shutil.rmtree(camera)  # everything evicted
    frame = load_frame(job, 5)
    assert cv2.imread(str(frame.image)).shape == (90, 160, 3)
