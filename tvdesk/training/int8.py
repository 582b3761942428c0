"""int8 copies of model versions, gated like any model: `make_int8`.

A version's ONNX is quantized to int8 (`int8_quantize`: static, QDQ, its decode in float),
calibrated on frames of the camera the version is for, then gated: the copy passes when its
mAP50 on each of the version's held-out sets, at each input size it will run at, is at most
`TOLERANCE` below the fp32 model's, both measured by `accuracy.measure` through the player's
`OnnxDetector`. The verdict goes into the version's card (`Int8Verdict.as_card`); the player
runs the copy only where it passed (`tvdesk.core.detector.runtime_choice`). A copy that cannot
be made (no usable calibration frames, no quantization support) or fails its gate is removed,
and the version runs fp32: making an int8 copy never fails a registration.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.training.accuracy import IMAGE_SUFFIXES, VAL_CONF, VAL_IOU, LabelledFolder, measure
from tvdesk.training.int8_quantize import METHOD, quantize

logger = logging.getLogger(__name__)

TOLERANCE = 0.01  # the most mAP50 an int8 copy may lose against its fp32 model, on any set
MIN_CALIBRATION_FRAMES = 16
MAX_CALIBRATION_FRAMES = 100  # evenly spread over what is given

HeldOut = Mapping[str, LabelledFolder | Path]
Calibration = Path | Sequence[Path] | Sequence[np.ndarray]


class Int8InputError(ValueError):
    """No usable calibration frames or held-out sets; the message says what was wrong."""


@dataclass(frozen=True)
class Int8Verdict:
    """The outcome of `make_int8`: the copy (None when there is none) and its gate."""

    file: Path | None
    passed: bool
    imgsz: tuple[int, ...]  # gated sizes; calibrated at the first
    map50: dict[str, dict[str, float]] = field(default_factory=dict)  # "<set>@<size>" -> fp32/int8
    calibration: dict = field(default_factory=dict)  # source, frames, imgsz
    reason: str = ""  # why it failed or was not made
    sha256: str = ""
    export_imgsz: int | None = None
    float_nodes: int = 0

    def as_card(self) -> dict:
        """The card's `int8` entry (what `tvdesk.core.detector.int8_copy` reads)."""
        return {
            "file": self.file.name if self.file else None,
            "sha256": self.sha256,
            "passed": self.passed,
            "tolerance": TOLERANCE,
            "imgsz": list(self.imgsz),
            "export_imgsz": self.export_imgsz,
            "map50": self.map50,
            "calibration": self.calibration,
            "reason": self.reason,
            "method": {
                **METHOD,
                "float": f"the detection head's decode ({self.float_nodes} nodes after its "
                "last convs)",
                "onnxruntime": onnxruntime.__version__,
                "machine": platform.machine(),
            },
        }


def make_int8(
    onnx: Path,
    calibration_images: Calibration,
    held_out: HeldOut,
    imgsz: int | Sequence[int],
    *,
    frame_hw: tuple[int, int] | None = None,
    source: str = "",
    threads: int = 1,
) -> Int8Verdict:
    """Quantize `onnx` to `<stem>.int8.onnx` beside it and gate the copy on `held_out`
    (name -> labelled folder or data.yaml, its val split) at each size of `imgsz`.

    Calibration: `calibration_images` (a folder, image files or BGR frames) letterboxed at the
    first size; with `frame_hw`, frames of another size are left out. `source` says in the
    card where they come from. Never raises: a copy that cannot be made or fails its gate is
    removed, and the verdict says why (one warning in the log).
    """
    sizes = (imgsz,) if isinstance(imgsz, int) else tuple(dict.fromkeys(imgsz))
    target = int8_path(onnx)
    calibration: dict = {"source": source or _describe(calibration_images), "imgsz": sizes[0]}
    try:
        if not held_out:
            raise Int8InputError("no held-out set to gate the int8 copy on")
        frames = calibration_frames(calibration_images, frame_hw)
        calibration["frames"] = len(frames)
        floats = _quantize(onnx, target, frames, sizes[0])
        map50, failures = gate(onnx, target, held_out, sizes, threads)
    except Exception as exc:  # any failure means fp32, said in the card and log
        return _refused(onnx, target, sizes, calibration, f"{type(exc).__name__}: {exc}")
    if failures:
        return _refused(onnx, target, sizes, calibration, "; ".join(failures), map50, floats)
    logger.info("%s: int8 copy passed its gate at %s", onnx, ", ".join(map(str, sizes)))
    return Int8Verdict(
        target,
        True,
        sizes,
        map50,
        calibration,
        sha256=sha256_of(target),
        export_imgsz=_export_imgsz(onnx),
        float_nodes=floats,
    )


def calibration_frames(
    images: Calibration, frame_hw: tuple[int, int] | None = None
) -> list[np.ndarray]:
    """Up to MAX_CALIBRATION_FRAMES frames, evenly spread; Int8InputError below the minimum."""
    if isinstance(images, Path):
        if not images.is_dir():
            raise Int8InputError(f"calibration folder {images} does not exist")
        images = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    chosen = [images[i] for i in _spread(len(images), MAX_CALIBRATION_FRAMES)]
    frames = [cv2.imread(str(f)) if isinstance(f, Path) else f for f in chosen]
    usable = [f for f in frames if f is not None and f.size]
    if frame_hw is not None:
        usable = [f for f in usable if f.shape[:2] == tuple(frame_hw)]
    if len(usable) < MIN_CALIBRATION_FRAMES:
        size = f" of the camera's size {frame_hw[1]}x{frame_hw[0]}" if frame_hw else ""
        raise Int8InputError(
            f"{len(usable)} readable calibration frames{size} among {len(images)} given; "
            f"{MIN_CALIBRATION_FRAMES} are needed"
        )
    return usable


def gate(
    onnx: Path, int8: Path, held_out: HeldOut, sizes: Sequence[int], threads: int = 1
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """fp32 and int8 mAP50 per `<set>@<size>`, and the sets where int8 lost more than
    TOLERANCE (none: it passes)."""
    sets = {name: _folder(data) for name, data in held_out.items()}
    map50: dict[str, dict[str, float]] = {}
    for size in sizes:
        for name, data in sets.items():
            fp32, quant = (_map50(path, data, size, threads) for path in (onnx, int8))
            map50[f"{name}@{size}"] = {"fp32": round(fp32, 4), "int8": round(quant, 4)}
    failures = [
        f"int8 mAP50 on {key} is {m['int8']:.4f}, {m['fp32'] - m['int8']:.4f} below fp32 "
        f"{m['fp32']:.4f} ({TOLERANCE} allowed)"
        for key, m in map50.items()
        if m["fp32"] - m["int8"] > TOLERANCE
    ]
    return map50, failures


def _quantize(onnx: Path, target: Path, frames: list[np.ndarray], imgsz: int) -> int:
    detector = OnnxDetector(onnx, imgsz=imgsz)
    return quantize(onnx, target, [detector.prepare(f) for f in frames])


def _map50(path: Path, data: LabelledFolder, imgsz: int, threads: int) -> float:
    detector = OnnxDetector(path, conf=VAL_CONF, iou=VAL_IOU, threads=threads, imgsz=imgsz)
    return measure(detector.detect, detector.names, data).map50


def _folder(data: LabelledFolder | Path) -> LabelledFolder:
    return data if isinstance(data, LabelledFolder) else LabelledFolder.from_yaml(Path(data))


def _refused(
    onnx: Path,
    target: Path,
    sizes: tuple[int, ...],
    calibration: dict,
    reason: str,
    map50: dict | None = None,
    floats: int = 0,
) -> Int8Verdict:
    target.unlink(missing_ok=True)
    logger.warning("%s: no int8 copy, it runs fp32: %s", onnx, reason)
    return Int8Verdict(None, False, sizes, map50 or {}, calibration, reason, float_nodes=floats)


def _export_imgsz(onnx: Path) -> int:
    return OnnxDetector(onnx).info.export_hw[0]


def _spread(total: int, count: int) -> list[int]:
    """`count` indices evenly spread over `total` (all of them when there are fewer)."""
    if total <= count:
        return list(range(total))
    return sorted({int((i + 0.5) * total / count) for i in range(count)})


def _describe(images: Calibration) -> str:
    if isinstance(images, Path):
        return f"images in {images}"
    return f"{len(images)} frames"
