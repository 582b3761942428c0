"""Procedural traffic scenes with exact YOLO labels: the demo camera and the training data.

`SceneRenderer` draws one frame; `SyntheticCamera` streams a scripted scenario;
`write_dataset` writes a YOLO dataset for chosen conditions.
"""

from tvdesk.core.synth.camera import SCENARIOS, Scenario, Segment, SyntheticCamera, scenario
from tvdesk.core.synth.conditions import (
    CONDITION_NAMES,
    Conditions,
    UnknownConditionError,
    preset,
)
from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.render import GroundTruth, SceneRenderer, SynthFrame
from tvdesk.core.synth.vehicles import CLASS_NAMES

__all__ = [
    "CLASS_NAMES",
    "CONDITION_NAMES",
    "SCENARIOS",
    "Conditions",
    "GroundTruth",
    "RoadCamera",
    "Scenario",
    "SceneRenderer",
    "Segment",
    "SynthFrame",
    "SyntheticCamera",
    "UnknownConditionError",
    "preset",
    "scenario",
]
