"""Reference profiles: robust, serialisable, one mode per condition, built from images."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

from bench.drift import attach_to_card
from tvdesk.core.drift import FEATURES, ProfileError, ReferenceProfile, profile_from_features
from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.features import MIN_SCALE, EdgeBackground, FrameFeatures
from tvdesk.core.drift.model_profile import (
    CARD_KEY,
    REPLAY_PREFIX,
    profile_from_card,
    profile_from_images,
)
from tvdesk.core.synth import SceneRenderer, preset
from tvdesk.core.synth.vehicles import sample_traffic

LUMA = FEATURES.index("luma_mean")


def _condition(rng, n, luma, spread=3.0):
    values = rng.normal(0.0, 1.0, (n, len(FEATURES)))
    values[:, LUMA] = rng.normal(luma, spread, n)
    return values


def test_a_feature_with_zero_spread_is_divided_by_its_floor():
    values = np.ones((50, len(FEATURES)))
    profile = profile_from_features(values)
    assert profile.modes[0].scale[LUMA] == MIN_SCALE["luma_mean"]
    shifted = np.ones(len(FEATURES))
    shifted[LUMA] += 10 * MIN_SCALE["luma_mean"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z, _ = profile.deviations(shifted)
    assert z[LUMA] == pytest.approx(10.0)
    assert np.isfinite(z).all()


def test_unmeasured_features_stay_nan_and_never_warn():
    values = np.random.default_rng(0).normal(size=(40, len(FEATURES)))
    values[:, -2:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile = profile_from_features(values)
        z, _ = profile.deviations(np.full(len(FEATURES), np.nan))
    assert np.isnan(profile.modes[0].centre[-2:]).all()
    assert np.isnan(z).all()


def test_distinct_conditions_become_modes_and_each_is_in_distribution():
    rng = np.random.default_rng(1)
    day, night = _condition(rng, 300, 120.0), _condition(rng, 300, 20.0)
    mixed = profile_from_features(np.vstack([day, night]))
    assert len(mixed.modes) == 2
    assert len(profile_from_features(day).modes) == 1
    for row in (day[0], night[0]):
        z, _ = mixed.deviations(row)
        assert abs(z[LUMA]) < 4
    z, _ = profile_from_features(day).deviations(night[0])
    assert z[LUMA] < -20


def test_a_profile_survives_json_with_its_calibration_and_background(tmp_path):
    rng = np.random.default_rng(2)
    values = _condition(rng, 100, 100.0)
    values[:, -1] = np.nan
    background = rng.random((90, 160)) > 0.8
    calibration = Calibration(
        {"luma_mean": (2.0, 2.5)}, {"luma_mean": (5.0, 6.0)}, 1.0, 1.0, 24.0, "test"
    )
    profile = profile_from_features(
        values, calibration=calibration, background=background, source="test"
    )
    profile.save(tmp_path / "profile.json")
    json.loads((tmp_path / "profile.json").read_text())  # strict JSON: no NaN tokens
    back = ReferenceProfile.load(tmp_path / "profile.json")
    assert back.calibration == calibration
    assert np.array_equal(back.background, background)
    np.testing.assert_array_equal(back.modes[0].centre, profile.modes[0].centre)
    assert back.source == "test" and back.features == FEATURES


def test_a_broken_profile_says_what_to_do(tmp_path):
    with pytest.raises(ProfileError, match="recompute"):
        ReferenceProfile.from_dict({"version": 1, "features": []})
    with pytest.raises(ProfileError, match="version 99"):
        ReferenceProfile.from_dict({"version": 99})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ProfileError, match="cannot read"):
        ReferenceProfile.load(tmp_path / "bad.json")


def test_profile_from_training_images_travels_in_the_card(tmp_path):
    renderer = SceneRenderer()
    rng = np.random.default_rng(3)
    images = tmp_path / "data" / "images" / "train"
    images.mkdir(parents=True)
    for i in range(24):
        c = preset("day").with_nuisance(rng)
        frame = renderer.render(sample_traffic(rng, renderer.camera, c.traffic_density), c, rng)
        cv2.imwrite(str(images / f"day_{i:03d}.jpg"), frame.image)
    (images / "notes.txt").write_text("not an image")
    profile = profile_from_images(tmp_path / "data")
    assert profile.frames == 24 and len(profile.modes) == 1
    centre = dict(zip(FEATURES, profile.modes[0].centre, strict=True))
    assert 60 < centre["luma_mean"] < 200 and 0.5 < centre["edge_recall"] <= 1.0
    assert np.isnan(centre["noise"]) and np.isnan(centre["confidence"])
    card = tmp_path / "model.json"
    card.write_text(json.dumps({"name": "m"}))
    attach_to_card(card, profile)
    data = json.loads(card.read_text())
    assert data["name"] == "m" and CARD_KEY in data
    assert profile_from_card(data).modes[0].frames == 24
    assert profile_from_card({"name": "old"}) is None
    profile.save(tmp_path / "profile.json")  # the registry keeps it in a file beside the card
    beside = profile_from_card({CARD_KEY: "profile.json"}, tmp_path)
    assert beside.modes[0].frames == 24
    with pytest.raises(ProfileError, match="folder"):
        profile_from_card({CARD_KEY: "profile.json"})
    assert profile_from_images(tmp_path / "data", max_images=10).frames == 10


def test_recall_is_measured_against_the_replayed_normal_however_many_new_frames(tmp_path):
    # A retraining's later rounds hold more night frames than replayed day ones; the live
    # monitor measures recall against the day's static edges, so the profile must too.
    renderer = SceneRenderer()
    rng = np.random.default_rng(5)
    images = tmp_path / "data" / "images" / "train"
    images.mkdir(parents=True)
    for prefix, condition, count in ((REPLAY_PREFIX, "day", 24), ("new_r3_", "night", 40)):
        for i in range(count):
            c = preset(condition).with_nuisance(rng)
            frame = renderer.render(sample_traffic(rng, renderer.camera, c.traffic_density), c, rng)
            cv2.imwrite(str(images / f"{prefix}{i:06d}.jpg"), frame.image)
    learn = EdgeBackground()
    for path in sorted(images.glob(f"{REPLAY_PREFIX}*.jpg")):
        extractor = FrameFeatures()
        extractor(cv2.imread(str(path)))
        learn.add(extractor.edges)
    live = FrameFeatures(learn.edges())  # a monitor that learnt its background by day
    recall = FEATURES.index("edge_recall")
    night_recall = [live(cv2.imread(str(p)))[recall] for p in sorted(images.glob("new_*.jpg"))]
    profile = profile_from_images(tmp_path / "data")
    assert len(profile.modes) == 2
    night_mode = min(profile.modes, key=lambda m: m.centre[LUMA])
    assert night_mode.centre[recall] == pytest.approx(np.median(night_recall), abs=0.03)
    assert night_mode.centre[recall] < 0.8  # the night hides most of the day's static edges


def test_no_images_is_a_clear_error(tmp_path):
    with pytest.raises(ProfileError, match="no images"):
        profile_from_images(tmp_path)
