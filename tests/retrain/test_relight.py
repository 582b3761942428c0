"""Relighting labelled base images to a drifted light: measured on the synthetic camera's own
frames (the same site in day and night light, and after the camera was knocked aside)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tvdesk.core.synth.camera import Scenario, Segment, SyntheticCamera
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset
from tvdesk.retrain.dataset import LabelledImage, assemble_dataset
from tvdesk.retrain.relight import (
    MIN_VIEW_SIMILARITY,
    NotRelightable,
    background,
    noise_sigma,
    relighting,
)

FRAMES = 40


def _stream(condition: str, seed: int) -> list[np.ndarray]:
    """FRAMES frames, one a second, of the synthetic camera held in `condition`."""
    camera = SyntheticCamera(Scenario(condition, (Segment(condition, 600.0),)), fps=1.0, seed=seed)
    return [frame.image for _, frame in zip(range(FRAMES), camera, strict=False)]


@pytest.fixture(scope="module")
def day():
    return _stream("day", seed=1)


@pytest.fixture(scope="module")
def night():
    return _stream("night", seed=2)


def test_relit_day_frames_take_the_night_light(day, night):
    relight = relighting(night, day)
    assert relight.view_similarity >= MIN_VIEW_SIMILARITY
    # The gain dims the scene to a fifth or so, brighter in the lamp pools than between them.
    assert 0.1 < float(relight.gain.mean()) < 0.35
    rng = np.random.default_rng(0)
    relit = [relight.apply(image, rng) for image in day[:20]]
    night_bg, relit_bg, day_bg = background(night), background(relit), background(day)
    # The relit scene is the night scene, grey level for grey level (where no vehicle passes);
    # the day scene is far from it.
    assert float(np.median(np.abs(relit_bg - night_bg))) < 3.0
    assert float(np.median(np.abs(day_bg - night_bg))) > 40.0
    # ... with the night's sensor noise, not the day's.
    assert noise_sigma(relit[0]) == pytest.approx(noise_sigma(night[0]), rel=0.25)


def test_a_camera_that_moved_is_not_relit(day):
    moved = _stream("camera-moved", seed=3)
    with pytest.raises(NotRelightable, match="view"):
        relighting(moved, day)


def test_another_site_is_not_relit(day, realdata):
    capture = cv2.VideoCapture(str(realdata / "videos" / "cctv_highway_day_bgs_video02.avi"))
    frames = []
    while len(frames) < FRAMES and (read := capture.read())[0]:
        frames.append(cv2.resize(read[1], (640, 360), interpolation=cv2.INTER_AREA))
    capture.release()
    assert len(frames) == FRAMES
    with pytest.raises(NotRelightable, match="view"):
        relighting(frames, day)


def test_frames_of_another_size_are_not_relit(day):
    small = [cv2.resize(image, (320, 180)) for image in day[:5]]
    with pytest.raises(NotRelightable, match="differ in size"):
        relighting(small, day)
    with pytest.raises(NotRelightable, match="needs drifted frames"):
        relighting([], day)


def test_noise_is_measured_in_grey_levels():
    rng = np.random.default_rng(0)
    flat = np.full((360, 640, 3), 100.0, np.float32)
    for sigma in (2.0, 5.0, 10.0):
        noisy = np.clip(flat + rng.normal(0.0, sigma, (360, 640, 1)), 0, 255).astype(np.uint8)
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.1)


def test_the_dataset_gets_relit_base_images_with_their_labels(tmp_path, day, night):
    base_yaml = write_dataset(tmp_path / "base", DatasetSpec(train=6, val=1))
    new = [
        LabelledImage(p, ("0 0.5 0.5 0.1 0.1",))
        for p in sorted((base_yaml.parent / "images" / "train").iterdir())[:3]
    ]
    relight = relighting(night, day)
    data = assemble_dataset(
        tmp_path / "ds",
        new,
        base_yaml,
        replay=2,
        val_fraction=0.34,
        seed=0,
        relight=relight,
        relit=5,
    )
    train = data.parent / "images" / "train"
    relit = sorted(train.glob("relit_*.jpg"))
    assert len(relit) == 5 and len(list(train.glob("replay_*.jpg"))) == 2
    # Four images the replay left out, then one of the replayed ones; each keeps its labels.
    base_labels = {p.read_text() for p in (base_yaml.parent / "labels" / "train").iterdir()}
    for image in relit:
        label = data.parent / "labels" / "train" / f"{image.stem}.txt"
        assert label.read_text() in base_labels
        assert cv2.imread(str(image)).mean() < 0.5 * cv2.imread(str(new[0].image)).mean()
