"""Drift features: cheap, defined for any frame, and moving the right way under each drift."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift import FEATURES, IMAGE_FEATURES, FrameFeatures, detection_features
from tvdesk.core.drift.features import EdgeBackground, edge_recall, frame_features
from tvdesk.core.synth import SceneRenderer, preset
from tvdesk.core.synth.vehicles import sample_traffic


@pytest.fixture(scope="module")
def renderer() -> SceneRenderer:
    return SceneRenderer()


def _frames(renderer: SceneRenderer, condition: str, n: int, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = preset(condition).with_nuisance(rng)
        traffic = sample_traffic(rng, renderer.camera, c.traffic_density)
        out.append(renderer.render(traffic, c, rng, float(rng.uniform(0, 600))).image)
    return out


@pytest.fixture(scope="module")
def day_background(renderer) -> np.ndarray:
    learner, features = EdgeBackground(), FrameFeatures()
    for frame in _frames(renderer, "day", 12, seed=1):
        features(frame)
        learner.add(features.edges)
    return learner.edges()


def _median(renderer, condition, background, n=6) -> dict[str, float]:
    features = FrameFeatures(background)
    values = np.median([features(f) for f in _frames(renderer, condition, n)], axis=0)
    return dict(zip(IMAGE_FEATURES, values, strict=True))


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((360, 640, 3), np.uint8),
        ((90, 160), np.uint8),
        ((240, 320, 4), np.uint8),
        ((1, 1, 3), np.uint8),
        ((7, 3), np.uint8),
        ((1080, 1920, 3), np.uint8),
        ((50, 80, 1), np.uint8),
        ((60, 60, 3), np.float32),
        ((33, 77, 3), np.uint16),
    ],
)
def test_any_frame_gives_one_finite_value_per_feature(shape, dtype):
    rng = np.random.default_rng(0)
    frame = (rng.random(shape) * (1.0 if dtype == np.float32 else 255)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = FrameFeatures(np.ones((90, 160), bool))(frame)
    assert values.shape == (len(IMAGE_FEATURES),)
    finite = np.isfinite(values)
    tiny = min(shape[:2]) < 3
    assert finite.all() or (tiny and not finite[IMAGE_FEATURES.index("noise")])


@pytest.mark.parametrize("level", [0, 255])
def test_flat_frames_are_measured_without_division_by_zero(level):
    frame = np.full((360, 640, 3), level, np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = frame_features(frame, Detections(), background=np.ones((90, 160), bool))
    assert values["luma_mean"] == pytest.approx(level, abs=1)
    assert values["contrast"] == 0 and values["edge_density"] == 0 and values["edge_recall"] == 0
    assert values["saturation"] == 0 and values["noise"] == 0
    assert values["detections"] == 0 and np.isnan(values["confidence"])


def test_a_frame_that_is_not_an_image_is_refused_clearly():
    with pytest.raises(ValueError, match="empty"):
        FrameFeatures()(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="grey"):
        FrameFeatures()(np.zeros((10, 10, 2), np.uint8))


def test_edge_recall_needs_a_background():
    frame = np.zeros((90, 160), np.uint8)
    assert np.isnan(FrameFeatures()(frame)[IMAGE_FEATURES.index("edge_recall")])
    assert np.isnan(edge_recall(frame, np.zeros((90, 160), bool)))


def test_detection_features():
    dets = Detections(
        np.zeros((4, 4), np.float32),
        np.array([0.9, 0.8, 0.3, 0.2], np.float32),
        np.zeros(4, np.int64),
        ("car",),
    )
    assert detection_features(dets).tolist() == pytest.approx([4, 0.55, 0.5])
    assert detection_features(Detections())[0] == 0
    assert np.isnan(detection_features(None)).all()
    assert len(FEATURES) == len(IMAGE_FEATURES) + 3


def test_each_drift_moves_the_features_that_describe_it(renderer, day_background):
    day = _median(renderer, "day", day_background)
    night = _median(renderer, "night", day_background)
    fog = _median(renderer, "fog", day_background)
    dirty = _median(renderer, "dirty-lens", day_background)
    moved = _median(renderer, "camera-moved", day_background)
    assert night["luma_mean"] < day["luma_mean"] - 40
    assert night["noise"] > day["noise"]
    assert fog["dark_channel"] > day["dark_channel"] + 20
    assert fog["saturation"] < day["saturation"] - 20
    assert dirty["sharpness_r2c3"] < day["sharpness_r2c3"] - 0.5  # the smudged corner
    assert abs(dirty["sharpness_r0c0"] - day["sharpness_r0c0"]) < 0.2  # a clean corner
    assert moved["edge_recall"] < day["edge_recall"] - 0.2
    assert abs(moved["luma_mean"] - day["luma_mean"]) < 10


def test_presets_added_for_camera_faults_change_only_the_camera(renderer):
    day, dirty, moved = preset("day"), preset("dirty-lens"), preset("camera-moved")
    assert dataclasses.replace(dirty, lens_dirt=0.0) == day
    assert dataclasses.replace(moved, camera_shift=(0.0, 0.0)) == day
