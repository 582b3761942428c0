"""Make Ultralytics run offline: the one place its environment is set before it is imported."""

from __future__ import annotations

import os
import shutil
from importlib import import_module
from pathlib import Path
from types import ModuleType

from tvdesk.config import default_data_dir

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


class TrainingUnavailableError(RuntimeError):
    """Ultralytics (the `train` extra) is not installed."""


def _bundled_font() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.exists() else None


def configure_environment(config_dir: Path | None = None) -> Path:
    """Set Ultralytics' offline switches and its config folder (with a local font)."""
    config_dir = Path(
        os.environ.get("YOLO_CONFIG_DIR") or config_dir or default_data_dir() / "ultralytics"
    )
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    source = _bundled_font()
    for name in FONT_NAMES:
        target = font_dir / name
        if source and not target.exists():
            shutil.copyfile(source, target)
    return config_dir


def ultralytics_offline() -> ModuleType:
    """Configure the environment, then import and return the `ultralytics` package."""
    configure_environment()
    try:
        module = import_module("ultralytics")
    except ImportError as exc:
        raise TrainingUnavailableError(
            "training needs the 'train' extra: pip install 'tvdesk[train]'"
        ) from exc
    module.utils.SETTINGS.update({"sync": False})
    return module
