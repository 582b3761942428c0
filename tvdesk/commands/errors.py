"""The errors a user can act on: each message says what happened and what to do."""

from __future__ import annotations

import errno

from jobs.queue import QueueUnavailableError
from tvdesk.config import SettingsError
from tvdesk.core.detector.onnx_model import DetectorError
from tvdesk.core.free_space import DiskSpaceError, is_disk_full
from tvdesk.core.registry import RegistryError
from tvdesk.core.session.capture import CaptureError
from tvdesk.core.session.video_file import VideoWriteError
from tvdesk.core.sources import SourceError
from tvdesk.core.store import StoreError
from tvdesk.core.synth.camera import UnknownScenarioError
from tvdesk.core.synth.conditions import UnknownConditionError
from tvdesk.core.synth.dataset import DatasetError
from tvdesk.retrain.dataset import DataVersionError
from tvdesk.retrain.labelers import LabelError
from tvdesk.training.offline import TrainingUnavailableError


class CommandLineError(Exception):
    """A value typed on the command line is wrong; the message says which and what to type."""


UserError = (
    CommandLineError,
    SettingsError,
    DataVersionError,
    DatasetError,
    DetectorError,
    DiskSpaceError,
    VideoWriteError,
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


def describe_os_error(exc: OSError) -> str | None:
    """A sentence for a disk fault no command expected (a full or read-only disk met while
    copying a model, say); None for other errors, which stay tracebacks worth a report."""
    where = f" ({exc.filename})" if exc.filename else ""
    if is_disk_full(exc):
        return f"the disk is full{where}: free some space there and try again"
    if exc.errno == errno.EROFS:
        return f"the disk is read-only{where}: choose a folder you can write to"
    if exc.errno == errno.EIO:
        return f"the disk failed to read or write{where}: check it"
    return None
