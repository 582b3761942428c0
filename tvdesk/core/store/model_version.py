"""The model version: one trained detector, where it came from and how good it is.

The store keeps them, the registry puts their files on disk, the jobs create them and the UI
lists them; all speak this type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelVersion:
    """A detector version. `parent_id` is the version it was fine-tuned from (None for a base
    model); `data_md5` is the DVC md5 of the dataset version that trained it."""

    name: str  # its model line, e.g. "tvdesk-traffic"
    version: str  # e.g. "3", unique within `name`
    path: Path  # the ONNX file
    data_md5: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # training parameters
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluation results
    parent_id: int | None = None
    created: float = 0.0  # time.time(); the store sets it when 0
    id: int | None = field(default=None, compare=False)  # set by the store
