"""Typed settings and the paths tvdesk uses: one place for defaults, validation and locations.

Behaviour settings live in `settings.toml` in the app data folder; unknown keys are an error
so a typo never silently falls back to a default. UI state (window geometry, recent files)
is the UI's business (QSettings), not this file's.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "tvdesk"
BUNDLED_MODEL_NAME = "tvdesk-base"


class SettingsError(ValueError):
    """The settings file is wrong; the message names the key and what is allowed."""


def project_root() -> Path:
    """The source checkout, or the unpacked bundle when frozen by PyInstaller."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return project_root() / "resources"


def bundled_model_path() -> Path:
    return resources_dir() / "models" / f"{BUNDLED_MODEL_NAME}.onnx"


def default_data_dir() -> Path:
    """Per-user data folder; TVDESK_HOME overrides it (tests, portable installs)."""
    override = os.environ.get("TVDESK_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


@dataclass
class Settings:
    """Behaviour settings with their defaults; each field's metadata says what it is for."""

    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata={"help": "where the database, models and captures live"},
    )
    model_path: Path = field(
        default_factory=bundled_model_path, metadata={"help": "ONNX model the player starts with"}
    )
    scenario: str = field(
        default="day-night", metadata={"help": "synthetic camera scenario of the demo source"}
    )
    synthetic_fps: float = field(default=10.0, metadata={"help": "synthetic camera frame rate"})
    confidence: float = field(default=0.25, metadata={"help": "detection confidence threshold"})
    iou: float = field(default=0.7, metadata={"help": "NMS IoU threshold (Ultralytics default)"})
    inference_threads: int = field(
        default=1,
        metadata={"help": "ONNX Runtime intra-op threads (1 leaves a core for capture and the UI)"},
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        self.model_path = Path(self.model_path).expanduser()
        if not 0.0 <= self.confidence <= 1.0:
            raise SettingsError(f"confidence must be between 0 and 1, got {self.confidence}")
        if not 0.0 < self.iou <= 1.0:
            raise SettingsError(f"iou must be in (0, 1], got {self.iou}")
        if self.synthetic_fps <= 0:
            raise SettingsError(f"synthetic_fps must be positive, got {self.synthetic_fps}")
        if self.inference_threads < 1:
            raise SettingsError(
                f"inference_threads must be 1 or more, got {self.inference_threads}"
            )

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "settings.toml"


def load_settings(path: Path | None = None) -> Settings:
    """Defaults, overridden by the settings file if there is one."""
    path = path or default_data_dir() / "settings.toml"
    if not path.exists():
        return Settings()
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return Settings(**values)
