"""int8 copies of model versions, gated like any model: `make_int8`.

A version's ONNX is quantized to int8 (`int8_quantize`: static, QDQ, its decode in float),
calibrated on frames of the camera the version is for, then gated: the copy passes when its
mAP50 on each of the version's held-out sets, at each input size it will run at, is at most
`TOLERANCE` below the fp32 model's, both measured by `accuracy.measure` through the player's
`OnnxDetector`. The activations' ranges are calibrated by MinMax first, then, where that copy
fails, by percentile (`METHODS`; percentile on frames resized to one size, the most common among
them); the first copy that passes stays. The verdict, each attempt included, goes into the
version's card (`Int8Verdict.as_card`); the player runs the copy only where it passed
(`tvdesk.core.detector.runtime_choice`). A copy that cannot be made (no usable calibration
frames, no quantization support) or fails its gate by every method is removed, and the version
runs fp32: making an int8 copy never fails a registration.
"""

from __future__ import annotations

import logging
import platform
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from time import perf_counter

import cv2
import numpy as np
import onnxruntime

from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.training.accuracy import IMAGE_SUFFIXES, VAL_CONF, VAL_IOU, LabelledFolder, measure
from tvdesk.training.int8_quantize import CALIBRATIONS, METHOD, calibrator, quantize

logger = logging.getLogger(__name__)

TOLERANCE = 0.01  # the most mAP50 an int8 copy may lose against its fp32 model, on any set
MIN_CALIBRATION_FRAMES = 16
MAX_CALIBRATION_FRAMES = 100  # evenly spread over what is given
METHODS = ("minmax", "percentile")  # calibrations tried in turn; the first copy that passes stays

HeldOut = Mapping[str, LabelledFolder | Path]
Calibration = Path | Sequence[Path] | Sequence[np.ndarray]
Gate = Callable[[Path, Path], tuple[dict[str, dict[str, float]], list[str]]]  # `gate`, sets bound


class Int8InputError(ValueError):
    """No usable calibration frames or held-out sets; the message says what was wrong."""


@dataclass(frozen=True)
class Int8Attempt:
    """One calibration method's int8 copy, made and gated (`make_int8` tries them in turn)."""

    method: str  # a key of int8_quantize.CALIBRATIONS
    passed: bool
    reason: str  # why it failed
    seconds: float  # quantizing and gating it
    map50: dict[str, dict[str, float]] = field(default_factory=dict)  # as Int8Verdict's
    float_nodes: int = 0
    frame_hw: tuple[int, int] | None = None  # the one size its frames were resized to
    frames_resized: int = 0  # how many of them had another size
    frames: int = 0  # calibration frames it used

    def as_card(self) -> dict:
        ranges = CALIBRATIONS[self.method].description if self.method in CALIBRATIONS else ""
        entry = {"method": self.method, "ranges": ranges, "frames": self.frames}
        entry["seconds"] = self.seconds
        if self.frame_hw is not None:
            entry["frame_size"] = f"{self.frame_hw[1]}x{self.frame_hw[0]}"
            entry["frames_resized"] = self.frames_resized
        return entry | {"passed": self.passed, "map50": self.map50, "reason": self.reason}


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
    attempts: tuple[Int8Attempt, ...] = ()  # in the order tried; the last made the copy
    tolerance: float = TOLERANCE

    @property
    def method(self) -> str | None:
        """The calibration method of the copy (of the last one tried when none passed)."""
        return self.attempts[-1].method if self.attempts else None

    def as_card(self) -> dict:
        """The card's `int8` entry (what `tvdesk.core.detector.int8_copy` reads)."""
        return {
            "file": self.file.name if self.file else None,
            "sha256": self.sha256,
            "passed": self.passed,
            "tolerance": self.tolerance,
            "imgsz": list(self.imgsz),
            "export_imgsz": self.export_imgsz,
            "map50": self.map50,
            "calibration": self.calibration
            | {"method": self.method, "attempts": [a.as_card() for a in self.attempts]},
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
    methods: Sequence[str] = METHODS,
    tolerance: float = TOLERANCE,
) -> Int8Verdict:
    """Quantize `onnx` to `<stem>.int8.onnx` beside it and gate the copy on `held_out`
    (name -> labelled folder or data.yaml, its val split) at each size of `imgsz`, allowing
    `tolerance` mAP50 lost; one calibration method of `methods` after another, until a copy
    passes.

    Calibration: `calibration_images` (a folder, image files or BGR frames) letterboxed at the
    first size; with `frame_hw`, frames of another size are left out. For a method that needs
    one tensor shape (percentile), frames are resized to the most common size among them
    first. `source` says in the card where they come from. Never raises: a copy that cannot be
    made or fails its gate is removed, and the verdict says why (one warning in the log).
    """
    sizes = (imgsz,) if isinstance(imgsz, int) else tuple(dict.fromkeys(imgsz))
    calibration: dict = {"source": source or _describe(calibration_images), "imgsz": sizes[0]}
    verdict = partial(Int8Verdict, imgsz=sizes, calibration=calibration, tolerance=tolerance)
    try:
        if not held_out:
            raise Int8InputError("no held-out set to gate the int8 copy on")
        if not methods:
            raise Int8InputError("no calibration method to try")
        frames = calibration_frames(calibration_images, frame_hw)
    except Exception as exc:  # any failure means fp32, said in the card and log
        reason = f"{type(exc).__name__}: {exc}"
        return _refused(onnx, verdict(file=None, passed=False, reason=reason))
    calibration["frames"] = len(frames)
    gated = partial(gate, held_out=held_out, sizes=sizes, threads=threads, tolerance=tolerance)
    return _decided(onnx, verdict, _attempts(onnx, frames, sizes[0], methods, gated))


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
    onnx: Path,
    int8: Path,
    held_out: HeldOut,
    sizes: Sequence[int],
    threads: int = 1,
    *,
    tolerance: float = TOLERANCE,
    fp32: Mapping[str, float] | None = None,
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """fp32 and int8 mAP50 per `<set>@<size>`, and the sets where int8 lost more than
    `tolerance` (none: it passes). `fp32` holds fp32 mAP50s already measured (by `make_int8`'s
    earlier attempt), which are not measured again."""
    sets = {name: _folder(data) for name, data in held_out.items()}
    known = fp32 or {}
    map50: dict[str, dict[str, float]] = {}
    for size in sizes:
        for name, data in sets.items():
            key = f"{name}@{size}"
            base = known[key] if key in known else round(_map50(onnx, data, size, threads), 4)
            map50[key] = {"fp32": base, "int8": round(_map50(int8, data, size, threads), 4)}
    failures = [
        f"int8 mAP50 on {key} is {m['int8']:.4f}, {m['fp32'] - m['int8']:.4f} below fp32 "
        f"{m['fp32']:.4f} ({tolerance} allowed)"
        for key, m in map50.items()
        if m["fp32"] - m["int8"] > tolerance
    ]
    return map50, failures


def _attempts(
    onnx: Path, frames: list[np.ndarray], imgsz: int, methods: Sequence[str], gated: Gate
) -> tuple[Int8Attempt, ...]:
    """Each method's copy in turn, calibrated at `imgsz`, up to the first that passes its gate
    (`gated`: `gate` with the held-out sets bound)."""
    attempts: list[Int8Attempt] = []
    for method, following in zip(methods, [*methods[1:], None], strict=True):
        fp32 = {key: m["fp32"] for a in attempts for key, m in a.map50.items()}
        attempt = _attempt(onnx, frames, imgsz, method, partial(gated, fp32=fp32))
        _log_attempt(onnx, attempt, following)
        attempts.append(attempt)
        if attempt.passed:
            break
    return tuple(attempts)


def _attempt(
    onnx: Path, frames: list[np.ndarray], imgsz: int, method: str, gated: Gate
) -> Int8Attempt:
    """`method`'s copy, made and gated; removed unless it passed."""
    start, target = perf_counter(), int8_path(onnx)
    made: dict = {}
    try:
        ranges = calibrator(method)
        if ranges.max_frames is not None:
            frames = [frames[i] for i in _spread(len(frames), ranges.max_frames)]
        if ranges.one_shape:
            frames, made["frame_hw"], made["frames_resized"] = _one_size(frames)
        made["frames"] = len(frames)
        made["float_nodes"] = _quantize(onnx, target, frames, imgsz, method)
        made["map50"], failures = gated(onnx, target)
        reason = " and ".join(failures)
    except Exception as exc:  # no copy by this method; the next may make one
        reason = f"{type(exc).__name__}: {exc}"
    if reason:
        target.unlink(missing_ok=True)
    return Int8Attempt(method, not reason, reason, round(perf_counter() - start, 1), **made)


def _one_size(frames: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[int, int], int]:
    """`frames` all at the most common size among them (the others resized, INTER_AREA), that
    size (h, w), and how many were resized."""
    (h, w), _ = Counter(f.shape[:2] for f in frames).most_common(1)[0]
    other = [f.shape[:2] != (h, w) for f in frames]
    resized = [
        cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if o else f
        for f, o in zip(frames, other, strict=True)
    ]
    return resized, (h, w), sum(other)


def _log_attempt(onnx: Path, attempt: Int8Attempt, following: str | None) -> None:
    outcome = "passed its gate" if attempt.passed else f"failed ({attempt.reason})"
    then = f"; trying {following} calibration" if following and not attempt.passed else ""
    logger.info(
        "%s: int8 copy by %s calibration %s in %.1f s%s",
        onnx,
        attempt.method,
        outcome,
        attempt.seconds,
        then,
    )


def _decided(
    onnx: Path, verdict: Callable[..., Int8Verdict], attempts: tuple[Int8Attempt, ...]
) -> Int8Verdict:
    """The verdict of the last attempt: its copy kept when it passed, else fp32."""
    last = attempts[-1]
    made = {"map50": last.map50, "float_nodes": last.float_nodes, "attempts": attempts}
    if not last.passed:
        reason = "; ".join(f"{a.method}: {a.reason}" for a in attempts)
        return _refused(onnx, verdict(file=None, passed=False, reason=reason, **made))
    target = int8_path(onnx)
    return verdict(
        file=target, passed=True, sha256=sha256_of(target), export_imgsz=_export_imgsz(onnx), **made
    )


def _quantize(onnx: Path, target: Path, frames: list[np.ndarray], imgsz: int, method: str) -> int:
    detector = OnnxDetector(onnx, imgsz=imgsz)
    return quantize(onnx, target, [detector.prepare(f) for f in frames], method=method)


def _map50(path: Path, data: LabelledFolder, imgsz: int, threads: int) -> float:
    detector = OnnxDetector(path, conf=VAL_CONF, iou=VAL_IOU, threads=threads, imgsz=imgsz)
    return measure(detector.detect, detector.names, data).map50


def _folder(data: LabelledFolder | Path) -> LabelledFolder:
    return data if isinstance(data, LabelledFolder) else LabelledFolder.from_yaml(Path(data))


def _refused(onnx: Path, verdict: Int8Verdict) -> Int8Verdict:
    int8_path(onnx).unlink(missing_ok=True)
    logger.warning("%s: no int8 copy, it runs fp32: %s", onnx, verdict.reason)
    return verdict


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
