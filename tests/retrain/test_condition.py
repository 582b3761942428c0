"""Telling the drifted condition's frames from the old normal, on frames the real capture
wrote (their sidecars' image features): what a refinement round learns from after the alarm
has ended."""

from __future__ import annotations

import json

import pytest
from media import capture_stream

from tvdesk.core.drift.model_profile import profile_from_card
from tvdesk.core.drift.reference import ProfileError
from tvdesk.core.session.capture import load_frame, stored_indices
from tvdesk.core.sources import SyntheticSource
from tvdesk.demo.headless import demo_scenario
from tvdesk.retrain.condition import (
    ENDED_WINDOW,
    DriftedCondition,
    drifted_condition,
    normal_of_frames,
)

FPS, DAY_S, FADE_S, NIGHT_S = 4.0, 15.0, 2.0, 15.0


@pytest.fixture(scope="module")
def day_and_night(bundled_model, tmp_path_factory):
    """Frames of day and of settled night, as the capture ring holds them."""
    root = tmp_path_factory.mktemp("capture")
    source = SyntheticSource(demo_scenario(DAY_S, FADE_S), fps=FPS, size=(256, 144), paced=False)
    capture_stream(source, bundled_model, root, round((DAY_S + FADE_S + NIGHT_S) * FPS))
    frames = [load_frame(root, i) for i in stored_indices(root)]
    day = [f for f in frames if f.timestamp < DAY_S]
    night = [f for f in frames if f.timestamp >= DAY_S + FADE_S]
    assert len(day) >= ENDED_WINDOW and len(night) >= ENDED_WINDOW
    return day, night


def test_night_frames_are_told_from_the_model_profiles_day(day_and_night, bundled_model, tmp_path):
    day, night = day_and_night
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    normal = profile_from_card(card, bundled_model.parent)
    condition = drifted_condition(normal, night[len(night) // 2 :])
    condition.save(tmp_path)
    condition = DriftedCondition.load(tmp_path)  # as a later round reads it
    assert condition.shows(night).all()
    assert not condition.shows(day).any()
    assert condition.ended(day) and not condition.ended(night)
    assert not condition.ended(night + day[: ENDED_WINDOW // 3])  # a few day-like frames


def test_without_a_kept_reference_the_frames_before_the_alarm_are_the_normal(day_and_night):
    day, night = day_and_night
    condition = drifted_condition(normal_of_frames(day), night[-20:])
    assert condition.shows(night).mean() > 0.95 and not condition.shows(day).any()
    with pytest.raises(ProfileError, match="too few"):
        drifted_condition(normal_of_frames(day), night[:2])
