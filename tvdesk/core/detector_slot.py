"""DetectorSlot: the live detector, replaced by a new model between two frames without a stall.

The frame loop reads `slot.current` once per frame. `load_and_swap` runs on another thread: it
builds the new session, checks it and warms it up there, and only then replaces the reference,
so the frame in flight finishes on the old model and the next one starts on the new. A model
that fails is rejected and the old one keeps running. Every outcome is a `SwapEvent`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tvdesk.core.onnx_detector import OnnxDetector, Thresholds
from tvdesk.core.onnx_model import DetectorError, model_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwapEvent:
    """A model swapped in, or one rejected (then `reason` says why), for the store and UI."""

    accepted: bool
    path: Path
    old_version: str
    new_version: str
    reason: str = ""
    class_change: str = ""  # what changed in the class list, when it did
    load_ms: float = 0.0
    warmup_ms: float = 0.0
    at: float = 0.0  # time.time() of the outcome

    @property
    def kind(self) -> str:
        return "swapped" if self.accepted else "rejected"


SwapCallback = Callable[[SwapEvent], None]


class DetectorSlot:
    """Holds the live `OnnxDetector`; swaps are serialised, thresholds survive them.

    Change thresholds through `set_thresholds` here rather than on `current`, so that a change
    made while a swap is loading is not lost.
    """

    def __init__(self, detector: OnnxDetector) -> None:
        detector.warm_up(detector.last_frame_hw)  # so the first frame does not pay for it
        self._current = detector
        self._swap_lock = threading.Lock()  # one load at a time
        self._state_lock = threading.Lock()  # the reference and its thresholds
        self._subscribers: list[SwapCallback] = []

    @property
    def current(self) -> OnnxDetector:
        return self._current

    def subscribe(self, callback: SwapCallback) -> None:
        """Call `callback(event)` after every swap or rejection, on the swapping thread."""
        self._subscribers.append(callback)

    def set_thresholds(self, **changes: object) -> Thresholds:
        """`OnnxDetector.set_thresholds` on the live detector, safe against a concurrent swap."""
        with self._state_lock:
            return self._current.set_thresholds(**changes)  # type: ignore[arg-type]

    def load_and_swap(self, path: str | Path, *, sample: np.ndarray | None = None) -> SwapEvent:
        """Load, check and warm up `path` on this thread, then swap it in between two frames.

        Blocking; call it off the frame thread. The warm-up runs on `sample` if given, else on a
        grey frame of the size the stream last had. Never raises for a bad model: the event
        says whether it was swapped in or rejected and why.
        """
        path = Path(path)
        with self._swap_lock:
            event = self._swap(path, sample)
        log = logger.info if event.accepted else logger.warning
        log(
            "model %s %s (was %s): %s",
            event.new_version,
            event.kind,
            event.old_version,
            event.reason or event.class_change or "same classes",
        )
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                logger.exception("a swap subscriber failed on %s", event)
        return event

    def _swap(self, path: Path, sample: np.ndarray | None) -> SwapEvent:
        old = self._current
        started = time.perf_counter()
        loaded = started
        try:
            new = OnnxDetector(path, **_threshold_kwargs(old.thresholds), **asdict(old.options))
            loaded = time.perf_counter()
            warmup_ms = new.warm_up(old.last_frame_hw, sample)
        except DetectorError as exc:
            return SwapEvent(
                False,
                path,
                old.version,
                model_version(path),
                reason=str(exc),
                load_ms=(loaded - started) * 1e3,
                at=time.time(),
            )
        with self._state_lock:
            new.thresholds = _carry_thresholds(self._current.thresholds, old.names, new.names)
            self._current = new
        return SwapEvent(
            True,
            path,
            old.version,
            new.version,
            class_change=describe_class_change(old.names, new.names),
            load_ms=(loaded - started) * 1e3,
            warmup_ms=warmup_ms,
            at=time.time(),
        )


def describe_class_change(old: list[str], new: list[str]) -> str:
    """'' when the class lists are equal, else what was added, removed or reordered."""
    if old == new:
        return ""
    added = [n for n in new if n not in old]
    removed = [n for n in old if n not in new]
    parts = ([f"added {', '.join(added)}"] if added else []) + (
        [f"removed {', '.join(removed)}"] if removed else []
    )
    return "class list changed: " + ("; ".join(parts) or "same names, new order")


def _threshold_kwargs(thresholds: Thresholds) -> dict[str, object]:
    return {
        "conf": thresholds.conf,
        "iou": thresholds.iou,
        "classes": thresholds.classes,
        "max_det": thresholds.max_det,
    }


def _carry_thresholds(thresholds: Thresholds, old: list[str], new: list[str]) -> Thresholds:
    """The same thresholds; a class filter follows the class names into the new model."""
    if thresholds.classes is None or old == new:
        return thresholds
    wanted = {old[c] for c in thresholds.classes if c < len(old)}
    return replace(thresholds, classes=tuple(i for i, n in enumerate(new) if n in wanted))
