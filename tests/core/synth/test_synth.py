"""The synthetic world: deterministic, exact labels, conditions that look like what they are."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tvdesk.core.synth import (
    CLASS_NAMES,
    CONDITION_NAMES,
    RoadCamera,
    SceneRenderer,
    SyntheticCamera,
    UnknownConditionError,
    preset,
    scenario,
)
from tvdesk.core.synth.vehicles import Vehicle, sample_traffic


@pytest.fixture(scope="module")
def renderer() -> SceneRenderer:
    return SceneRenderer()


def _render(renderer, condition="day", seed=3, **overrides):
    rng = np.random.default_rng(seed)
    traffic = sample_traffic(rng, renderer.camera, 0.7)
    conditions = dataclasses.replace(preset(condition), **overrides)
    return renderer.render(traffic, conditions, rng)


def _car(
    camera: RoadCamera,
    lane: int,
    z: float,
    kind: str = "car",
    length: float = 4.5,
    height: float = 1.5,
) -> Vehicle:
    return Vehicle(
        kind=kind,
        lane=lane,
        x=camera.lane_centre_x(lane),
        z=z,
        length=length,
        width=1.8 if kind == "car" else 2.5,
        height=height,
        speed=10.0,
        colour=(40, 40, 200),
        towards_camera=camera.lane_heads_towards_camera(lane),
    )


def test_same_seed_gives_identical_frames(renderer):
    a, b = _render(renderer, seed=11), _render(renderer, seed=11)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.truth.boxes, b.truth.boxes)
    assert not np.array_equal(a.image, _render(renderer, seed=12).image)


def test_every_condition_renders_labelled_vehicles_of_all_classes(renderer):
    seen = set()
    for condition in CONDITION_NAMES:
        for seed in range(4):
            frame = _render(renderer, condition, seed=seed)
            assert frame.image.shape == (360, 640, 3) and frame.image.dtype == np.uint8
            assert len(frame.truth) > 0
            seen.update(frame.truth.class_ids.tolist())
    assert seen == set(range(len(CLASS_NAMES)))
    assert CLASS_NAMES == ("car", "truck", "bus", "motorcycle")  # COCO names, for real footage


def test_boxes_lie_inside_the_frame_and_are_not_tiny(renderer):
    frame = _render(renderer, seed=5)
    b = frame.truth.boxes
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
    assert (b[:, 2] <= 640).all() and (b[:, 3] <= 360).all()
    assert ((b[:, 2] - b[:, 0]) >= 12).all() and ((b[:, 3] - b[:, 1]) >= 16).all()


def test_label_is_the_extent_of_the_vehicles_pixels(renderer):
    cam = renderer.camera
    frame = renderer.render([_car(cam, 0, 25.0)], preset("day"), np.random.default_rng(0))
    ((x1, y1, x2, y2),) = frame.truth.boxes.astype(int)
    empty = renderer.render([], preset("day"), np.random.default_rng(0)).image
    changed = np.abs(frame.image.astype(int) - empty.astype(int)).max(axis=2) > 40
    ys, xs = np.nonzero(changed[:, :])
    inside = (xs >= x1 - 2) & (xs < x2 + 2) & (ys >= y1 - 2) & (ys < y2 + 2)
    assert inside.mean() > 0.9  # the car's pixels are in its box (its shadow may lie outside)
    assert changed[y1:y2, x1:x2].mean() > 0.5  # and the box is mostly car


def test_a_vehicle_hidden_behind_a_bus_is_not_labelled(renderer):
    cam = renderer.camera
    bus = _car(cam, 3, 20.0, kind="bus", length=12.0, height=3.2)
    hidden = _car(cam, 3, 34.0)
    frame = renderer.render([bus, hidden], preset("day"), np.random.default_rng(0))
    assert frame.truth.class_ids.tolist() == [CLASS_NAMES.index("bus")]


@pytest.mark.parametrize("lane", [0, 3])
def test_a_vehicle_cut_off_by_the_frame_is_labelled_up_to_the_edge(renderer, lane):
    """Cut off is not hidden: a truck close to the camera with its front below the frame is
    a big, plain object a detector must find (as COCO labels truncated objects)."""
    cam = renderer.camera
    truck = _car(cam, lane, 7.0, kind="truck", length=9.0, height=3.4)
    frame = renderer.render([truck], preset("day"), np.random.default_rng(0))
    assert frame.truth.class_ids.tolist() == [CLASS_NAMES.index("truck")]
    _, top, _, bottom = frame.truth.boxes[0]
    assert bottom == cam.height and (bottom - top) > cam.height / 5


def test_a_partly_hidden_vehicle_gets_the_box_of_its_visible_part(renderer):
    cam = renderer.camera
    near = _car(cam, 1, 20.0)
    alone = renderer.render([_car(cam, 2, 26.0)], preset("day"), np.random.default_rng(0))
    both = renderer.render([near, _car(cam, 2, 26.0)], preset("day"), np.random.default_rng(0))
    assert len(alone.truth) == 1 and len(both.truth) in (1, 2)
    if len(both.truth) == 2:
        far_box = both.truth.boxes[np.argmin(both.truth.boxes[:, 3])]
        full = alone.truth.boxes[0]
        assert (far_box[2] - far_box[0]) * (far_box[3] - far_box[1]) <= (
            (full[2] - full[0]) * (full[3] - full[1])
        )


def test_conditions_change_the_image_as_they_should(renderer):
    day = _render(renderer, "day").image.astype(float)
    night = _render(renderer, "night").image.astype(float)
    fog = _render(renderer, "fog").image.astype(float)
    assert night.mean() < 0.3 * day.mean()
    assert night.max() > 200  # headlights and street lamps still shine
    assert fog.std() < 0.6 * day.std()  # haze flattens contrast


def test_nuisance_keeps_the_condition_but_varies_it():
    rng = np.random.default_rng(0)
    varied = [preset("day").with_nuisance(rng) for _ in range(20)]
    assert len({v.cloud_cover for v in varied}) == 20
    assert all(v.daylight > 0.8 and v.rain == 0 and v.fog == 0 for v in varied)


def test_unknown_condition_is_a_clear_error():
    with pytest.raises(UnknownConditionError, match="choose one of day, dusk, night"):
        preset("sunny")


def test_scenario_fades_from_day_to_night():
    s = scenario("day-night")
    assert s.conditions_at(10.0).daylight == 1.0
    assert s.conditions_at(65.0).daylight == pytest.approx(0.5)
    assert s.conditions_at(75.0).daylight == 0.0
    assert s.onset_of("night") == 60.0


def test_synthetic_camera_streams_moving_traffic_with_labels():
    cam = SyntheticCamera("day-night", fps=10.0, seed=1)
    frames = [cam.read() for _ in range(5)]
    assert cam.frame_count == int(scenario("day-night").seconds * 10)
    assert all(len(f.truth) > 0 for f in frames)
    diff = np.abs(frames[0].image.astype(int) - frames[4].image.astype(int)).mean()
    assert diff > 0.5  # traffic moved
    again = SyntheticCamera("day-night", fps=10.0, seed=1)
    assert np.array_equal(again.read().image, frames[0].image)


def test_synthetic_camera_stops_or_loops_at_the_end():
    short = SyntheticCamera("day", fps=1.0, seed=0, width=320, height=180)
    short.scenario = dataclasses.replace(
        short.scenario, segments=(dataclasses.replace(short.scenario.segments[0], seconds=3.0),)
    )
    assert len(list(short)) == 3 and short.read() is None
    short.loop = True
    assert short.read() is not None


def test_rendering_at_another_size_scales_the_scene():
    small = SceneRenderer(RoadCamera().resized(320, 180))
    frame = _render(small, "day")
    assert frame.image.shape == (180, 320, 3) and len(frame.truth) > 0
