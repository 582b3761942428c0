"""OnnxDetector: an Ultralytics detection export run with ONNX Runtime on BGR frames.

It gives the same boxes as `ultralytics.YOLO(path).predict(...)` on the same file (letterbox,
decode, NMS and scaling all copy Ultralytics' arithmetic), without torch, and letterboxes to a
minimal rectangle whenever the model's input shape is dynamic, which makes 16:9 frames cheaper.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from time import perf_counter

import cv2
import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.detector.letterbox import PAD_VALUE, Letterbox, fit_to_stride
from tvdesk.core.detector.onnx_model import (
    LOAD_ERRORS,
    DetectorError,
    model_version,
    open_session,
    read_model_info,
)
from tvdesk.core.detector.yolo_output import class_aware_nms, drop_non_finite, select_candidates

logger = logging.getLogger(__name__)

KEEP = object()  # set_thresholds: leave this value as it is


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds spent in each stage of the last `detect` call."""

    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.inference_ms + self.postprocess_ms


@dataclass(frozen=True)
class Thresholds:
    """What the detector keeps. Replaced as a whole, so a frame never sees half a change."""

    conf: float = 0.25
    iou: float = 0.7
    classes: tuple[int, ...] | None = None  # class ids to keep; None keeps all
    max_det: int = 300

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"confidence threshold must be between 0 and 1, got {self.conf}")
        if not 0.0 <= self.iou <= 1.0:
            raise ValueError(f"IoU threshold must be between 0 and 1, got {self.iou}")
        if self.max_det < 1:
            raise ValueError(f"max_det must be 1 or more, got {self.max_det}")
        if self.classes is not None and any(c < 0 for c in self.classes):
            raise ValueError(f"class ids are 0 or more, got {self.classes}")


@dataclass(frozen=True)
class RuntimeOptions:
    """How a model is run; a `DetectorSlot` runs the models it swaps in the same way."""

    threads: int = 1
    providers: tuple[str, ...] | None = None  # None: CUDA/CoreML/DirectML when offered, CPU
    imgsz: int | tuple[int, int] | None = None  # None: the size the model was exported at
    rect: bool = True  # minimal-rectangle letterbox when the model's input shape is dynamic
    # ONNX Runtime's pool threads spin while they wait for work, from their start until the
    # first run and briefly after each: 1.4 ms a frame faster at 2 threads (measured), but a
    # session opened beside a running stream then takes a core from its frames (DetectorSlot).
    spin: bool = True


@dataclass(frozen=True)
class PreparedFrame:
    """A frame letterboxed into the model's input, with what finishing it needs."""

    tensor: np.ndarray  # [1, 3, H, W]
    letterbox: Letterbox
    thresholds: Thresholds
    preprocess_ms: float


class OnnxDetector:
    """One loaded detection model. `detect` may run on one thread while another changes the
    thresholds; the new thresholds apply from the next frame."""

    def __init__(
        self,
        path: str | Path,
        *,
        conf: float = 0.25,
        iou: float = 0.7,
        classes: Iterable[int] | None = None,
        max_det: int = 300,
        threads: int = 1,
        providers: Sequence[str] | None = None,
        imgsz: int | tuple[int, int] | None = None,
        rect: bool = True,
        spin: bool = True,
        preoptimized: Path | None = None,
    ) -> None:
        """`preoptimized`: a copy of `path` that `onnx_model.save_optimized` wrote on this
        machine; it is opened without running the graph optimizer again (faster)."""
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, got {threads}")
        self.path = Path(path)
        self.thresholds = Thresholds(conf, iou, _class_tuple(classes), max_det)
        self.options = RuntimeOptions(
            threads, tuple(providers) if providers else None, imgsz, rect, spin
        )
        self.session = open_session(
            Path(preoptimized or self.path),
            threads,
            providers,
            optimize=preoptimized is None,
            spin=spin,
        )
        self.info = read_model_info(self.path, self.session)
        self.names = list(self.info.names)
        self.version = model_version(self.path)
        self.providers = self.session.get_providers()
        self.input_hw = self._input_size(imgsz)
        self.rect = rect and self.info.dynamic
        self.timings = StageTimes()
        self.last_frame_hw: tuple[int, int] | None = None
        # Entered around each frame's detection: a DetectorSlot learns from it when frames end.
        self.frame_scope: contextlib.AbstractContextManager = contextlib.nullcontext()
        self._bad_frames = 0
        self._letterboxes: dict[tuple[int, int], Letterbox] = {}
        logger.info(
            "loaded %s (version %s, %s): %d classes, input %s%s, %s",
            self.path,
            self.version,
            self.precision,
            len(self.names),
            self.input_hw,
            " rectangular" if self.rect else "",
            self.providers[0],
        )

    @property
    def precision(self) -> str:
        """What the model runs in: int8 for tvdesk's int8 copy of a model, else fp32 (or fp16)."""
        return self.info.precision

    def set_thresholds(
        self,
        *,
        conf: float | None = None,
        iou: float | None = None,
        classes: Iterable[int] | object | None = KEEP,
        max_det: int | None = None,
    ) -> Thresholds:
        """Change what is kept from the next frame on; unnamed values stay as they are."""
        changes: dict[str, object] = {}
        if conf is not None:
            changes["conf"] = conf
        if iou is not None:
            changes["iou"] = iou
        if max_det is not None:
            changes["max_det"] = max_det
        if classes is not KEEP:
            changes["classes"] = _class_tuple(classes)  # type: ignore[arg-type]
        self.thresholds = replace(self.thresholds, **changes)
        return self.thresholds

    def detect(self, frame: np.ndarray) -> Detections:
        """Boxes in frame pixels for a BGR (or grey, or BGRA) uint8 frame of any size.

        An empty frame gives no boxes (and a warning); boxes with NaN coordinates are dropped.
        """
        with self.frame_scope:
            return self._detect(frame)

    def _detect(self, frame: np.ndarray) -> Detections:
        prepared = self.prepare_frame(frame)
        if isinstance(prepared, Detections):
            return prepared
        started = perf_counter()
        raw = self.run(prepared.tensor)
        return self.finish_frame(prepared, raw, (perf_counter() - started) * 1e3)

    def prepare_frame(self, frame: np.ndarray) -> PreparedFrame | Detections:
        """`detect`'s first half: the frame letterboxed into the model's input, or no boxes
        for an empty frame. A `DetectionEngine` runs the tensors of several cameras' frames
        in one call, then each finishes its own (`finish_frame`)."""
        start = perf_counter()
        image = self._as_bgr(frame)
        if image is None:
            return Detections(names=self.info.names)
        letterbox = self.letterbox_for(image.shape[:2])
        tensor = letterbox.to_tensor(image, self.info.input_dtype)
        return PreparedFrame(tensor, letterbox, self.thresholds, (perf_counter() - start) * 1e3)

    def finish_frame(
        self, prepared: PreparedFrame, raw: np.ndarray, inference_ms: float
    ) -> Detections:
        """`detect`'s second half: the boxes of `prepared` from its raw model output."""
        start = perf_counter()
        detections = self._decode(raw, prepared.letterbox, prepared.thresholds)
        self.last_frame_hw = prepared.letterbox.frame_hw
        self.timings = StageTimes(
            prepared.preprocess_ms, inference_ms, (perf_counter() - start) * 1e3
        )
        return detections

    def batch_key(self, prepared: PreparedFrame) -> tuple | None:
        """What frames must share to run stacked in one call on any detector with this key
        (the same model file and version at the same input size), or None when this model's
        input takes one frame at a time."""
        if not self.info.batches:
            return None
        return (str(self.path), self.version, self.precision, prepared.tensor.shape[1:])

    def letterbox_for(self, frame_hw: tuple[int, int]) -> Letterbox:
        """Where a frame of `frame_hw` lands in this model's input; worked out once per size
        (a camera's frames share one), since every Python step after an inference runs with
        the interpreter's code evicted from the cache by it."""
        letterbox = self._letterboxes.get(frame_hw)
        if letterbox is None:
            letterbox = Letterbox.fit(
                frame_hw, self.input_hw, self.info.stride if self.rect else None
            )
            self._letterboxes[frame_hw] = letterbox
        return letterbox

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The input tensor `detect` feeds the model for this BGR uint8 frame."""
        return self.letterbox_for(frame.shape[:2]).to_tensor(frame, self.info.input_dtype)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """The raw model output for a prepared tensor, checked to be decodable."""
        try:
            raw = self.session.run([self.info.output_name], {self.info.input_name: tensor})[0]
        except LOAD_ERRORS as exc:
            raise DetectorError(
                f"{self.path}: inference failed on an input of shape {tensor.shape} ({exc})"
            ) from exc
        if raw.ndim != 3 or raw.shape[:2] != (len(tensor), 4 + len(self.names)):
            raise DetectorError(
                f"{self.path}: the model output has shape {raw.shape}; expected "
                f"[{len(tensor)}, {4 + len(self.names)}, anchors] for {len(self.names)} "
                f"classes"
            )
        return raw

    def warm_up(
        self, frame_hw: tuple[int, int] | None = None, sample: np.ndarray | None = None
    ) -> float:
        """Run one inference (on `sample`, else a grey frame of `frame_hw`); returns its ms.

        The first run allocates the session's buffers, so the first real frame is not slow;
        a model that outputs NaN or infinity here is broken and raises DetectorError.
        """
        if sample is None:
            sample = np.full((*(frame_hw or self.input_hw), 3), PAD_VALUE, np.uint8)
        image = self._as_bgr(sample)
        if image is None:
            raise DetectorError(f"{self.path}: cannot warm up on an empty frame")
        start = perf_counter()
        raw = self.run(self.prepare(image))
        elapsed_ms = (perf_counter() - start) * 1e3
        if not np.isfinite(raw).all():
            raise DetectorError(
                f"{self.path}: the model outputs NaN or infinity on a plain "
                f"frame, so it is broken; re-export or retrain it"
            )
        return elapsed_ms

    def _decode(self, raw: np.ndarray, letterbox: Letterbox, thresholds: Thresholds) -> Detections:
        candidates = select_candidates(
            raw.astype(np.float32, copy=False), len(self.names), thresholds.conf, thresholds.classes
        )
        if not len(candidates):  # the common empty frame: nothing more to run
            return Detections(
                candidates.xyxy, candidates.scores, candidates.class_ids, self.info.names
            )
        candidates, dropped = drop_non_finite(candidates)
        if dropped:
            logger.warning("%s: dropped %d boxes with NaN/infinite coordinates", self.path, dropped)
        kept = class_aware_nms(candidates, thresholds.iou, thresholds.max_det)
        return Detections(
            letterbox.boxes_to_frame(kept.xyxy), kept.scores, kept.class_ids, self.info.names
        )

    def _as_bgr(self, frame: np.ndarray) -> np.ndarray | None:
        """The frame as contiguous 3-channel BGR uint8, or None (with a warning) when empty."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise DetectorError(f"{self.path}: frames must be uint8 numpy images, got {kind}")
        if frame.size == 0:
            self._bad_frames += 1
            log = logger.warning if self._bad_frames == 1 else logger.debug
            log(
                "%s: skipped an empty frame of shape %s (%d so far)",
                self.path,
                frame.shape,
                self._bad_frames,
            )
            return None
        channels = 1 if frame.ndim == 2 else frame.shape[2] if frame.ndim == 3 else 0
        if channels == 1:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if channels == 4:
            return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        if channels != 3:
            raise DetectorError(
                f"{self.path}: cannot read a frame of shape {frame.shape}; "
                f"give BGR, BGRA or grey images"
            )
        return np.ascontiguousarray(frame)

    def _input_size(self, imgsz: int | tuple[int, int] | None) -> tuple[int, int]:
        fixed = self.info.fixed_hw
        requested = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
        if fixed is not None:
            if requested is not None and tuple(requested) != fixed:
                raise DetectorError(
                    f"{self.path} has a fixed {fixed[1]}x{fixed[0]} input, so imgsz {imgsz} is "
                    f"not possible; leave imgsz unset or export the model with dynamic=True"
                )
            return fixed
        height, width = requested or self.info.export_hw
        return fit_to_stride(height, self.info.stride), fit_to_stride(width, self.info.stride)


def _class_tuple(classes: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if classes is None else tuple(sorted({int(c) for c in classes}))
