"""The errors a user can act on: each message says what happened and what to do."""

from __future__ import annotations

from tvdesk.config import SettingsError
from tvdesk.core.dataset import DataVersionError
from tvdesk.core.synth.camera import UnknownScenarioError
from tvdesk.core.synth.conditions import UnknownConditionError
from tvdesk.core.synth.dataset import DatasetError

UserError = (
    SettingsError,
    DataVersionError,
    DatasetError,
    UnknownConditionError,
    UnknownScenarioError,
    FileNotFoundError,
    PermissionError,
)
