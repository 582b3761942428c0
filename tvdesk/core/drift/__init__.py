"""Drift monitoring: cheap frame features, reference profiles, a calibrated sequential test.

`DriftMonitor` is what the frame loop calls; `ReferenceProfile` is what a model's card
carries; `profile_from_images` builds one from training images when a model is registered.
"""

from tvdesk.core.drift.baseline import BaselineRecorder, baseline_profile
from tvdesk.core.drift.calibration import Calibration, calibrate
from tvdesk.core.drift.explain import label, summary
from tvdesk.core.drift.features import (
    FEATURES,
    IMAGE_FEATURES,
    MODEL_FEATURES,
    FrameFeatures,
    detection_features,
    frame_features,
)
from tvdesk.core.drift.monitor import DriftMonitor
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, profile_from_features
from tvdesk.core.drift.status import DriftConfig, DriftStatus

__all__ = [
    "FEATURES",
    "IMAGE_FEATURES",
    "MODEL_FEATURES",
    "BaselineRecorder",
    "Calibration",
    "DriftConfig",
    "DriftMonitor",
    "DriftStatus",
    "FrameFeatures",
    "ProfileError",
    "ReferenceProfile",
    "baseline_profile",
    "calibrate",
    "detection_features",
    "frame_features",
    "label",
    "profile_from_features",
    "summary",
]
