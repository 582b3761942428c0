"""The errors a user can act on: each message says what happened and what to do."""

from __future__ import annotations

from jobs.queue import QueueUnavailableError
from tvdesk.config import SettingsError
from tvdesk.core.detector.onnx_model import DetectorError
from tvdesk.core.registry import RegistryError
from tvdesk.core.session.capture import CaptureError
from tvdesk.core.sources import SourceError
from tvdesk.core.store import StoreError
from tvdesk.core.synth.camera import UnknownScenarioError
from tvdesk.core.synth.conditions import UnknownConditionError
from tvdesk.core.synth.dataset import DatasetError
from tvdesk.retrain.dataset import DataVersionError
from tvdesk.retrain.labelers import LabelError
from tvdesk.training.offline import TrainingUnavailableError

UserError = (
    SettingsError,
    DataVersionError,
    DatasetError,
    DetectorError,
    SourceError,
    QueueUnavailableError,
    RegistryError,
    CaptureError,
    LabelError,
    StoreError,
    TrainingUnavailableError,
    UnknownConditionError,
    UnknownScenarioError,
    FileNotFoundError,
    PermissionError,
)
