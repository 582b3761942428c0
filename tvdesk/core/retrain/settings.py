"""Retraining settings: how many frames to label, how to train, and when a candidate is promoted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tvdesk.config import SettingsError

LABELERS = ("oracle", "teacher", "import", "review")


@dataclass(frozen=True)
class RetrainSettings:
    """Defaults of one retraining; a job stores the values it ran with in its params."""

    labeler: str = field(default="oracle", metadata={"help": f"one of {', '.join(LABELERS)}"})
    label_budget: int = field(default=200, metadata={"help": "frames chosen for labelling"})
    import_dir: str = field(default="", metadata={"help": "YOLO folder for the import labeler"})
    replay: int = field(default=150, metadata={"help": "base images mixed in against forgetting"})
    val_fraction: float = field(default=0.2, metadata={"help": "share of new frames held out"})
    epochs: int = field(default=10, metadata={"help": "fine-tuning epochs"})
    imgsz: int = field(default=320, metadata={"help": "training and evaluation image size"})
    batch: int = field(default=16, metadata={"help": "training batch size"})
    patience: int = field(default=5, metadata={"help": "epochs without improvement to stop"})
    seed: int = field(default=0, metadata={"help": "seed of selection, split and training"})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, 0 (first GPU)..."})
    threads: int = field(default=1, metadata={"help": "torch CPU threads (1 spares the player)"})
    min_gain: float = field(default=0.02, metadata={"help": "mAP50 gain needed on drifted data"})
    max_base_loss: float = field(default=0.03, metadata={"help": "mAP50 loss allowed on base"})
    base_data: str = field(
        default="", metadata={"help": "base dataset's data.yaml ('' = render it in the app data)"}
    )

    def __post_init__(self) -> None:
        if self.labeler not in LABELERS:
            raise SettingsError(
                f"labeler must be one of {', '.join(LABELERS)}, got {self.labeler!r}"
            )
        if self.labeler == "import" and not self.import_dir:
            raise SettingsError("the import labeler needs a YOLO folder: give --import-dir")
        for name in ("label_budget", "epochs", "imgsz", "batch"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if self.replay < 0 or self.threads < 0 or self.patience < 1:
            raise SettingsError("replay and threads must be 0 or more, patience 1 or more")
        if not 0.0 < self.val_fraction < 1.0:
            raise SettingsError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RetrainSettings:
        """Settings from a job's params; unknown keys are an error, missing ones default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown retraining setting(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known))}"
            )
        return cls(**values)

    def with_changes(self, **changes: Any) -> RetrainSettings:
        """A copy with the non-None values of `changes` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def base_data_yaml(self) -> Path | None:
        return Path(self.base_data) if self.base_data else None
