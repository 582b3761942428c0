"""The camera: a named, stored thing with its source, its model line and active version, its
drift reference and its detection settings. The store keeps them; sessions, jobs, the CLI
and the GUI all speak this type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SYNTHETIC_KIND = "synthetic"


@dataclass(frozen=True)
class DetectionSettings:
    """How one camera is detected; None means the app's setting (or the model's own size)."""

    imgsz: int | None = None  # the detector's input (long side); None: the model's export size
    confidence: float | None = None
    classes: tuple[str, ...] | None = None  # class names shown; None: all the model has
    detect_every_max: int | None = None  # detect 1 frame in k (k <= this) when short of CPU

    def __post_init__(self) -> None:
        if self.detect_every_max is not None and not 1 <= self.detect_every_max <= 10:
            raise ValueError(
                f"detect_every_max is from 1 (every frame) to 10, got {self.detect_every_max}"
            )
        if self.imgsz is not None and (self.imgsz < 32 or self.imgsz % 32):
            raise ValueError(f"an input size is a multiple of 32 from 32 up, got {self.imgsz}")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"a confidence is between 0 and 1, got {self.confidence}")

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DetectionSettings:
        classes = values.get("classes")
        return cls(
            imgsz=values.get("imgsz"),
            confidence=values.get("confidence"),
            classes=tuple(classes) if classes is not None else None,
            detect_every_max=values.get("detect_every_max"),
        )


@dataclass(frozen=True)
class Camera:
    """One camera. `source` is what the operator opened, safe to show (a URL's password is
    masked); `source_key` identifies the source so that opening it again finds this camera;
    `line` is the name of its model line and `model_id` its active version; `reference` names
    its persisted drift reference file (empty until its baseline has been learnt)."""

    name: str
    source: str
    source_key: str
    kind: str  # a SourceInfo.kind: file, webcam, stream, synthetic, folder, snapshot
    line: str
    model_id: int | None = None
    reference: str = ""
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    created: float = 0.0
    id: int | None = field(default=None, compare=False)

    @property
    def synthetic(self) -> bool:
        return self.kind == SYNTHETIC_KIND
