"""DetectorSlot: the live detector, replaced by a new model between two frames without a stall.

The frame loop reads `slot.current` once per frame. `load_and_swap` runs on another thread: it
builds the new session, checks it with one inference on a real-sized frame (the warm-up), and
only then replaces the reference, so the frame in flight finishes on the old model and the
next one starts on the new. A model that fails is rejected and the old one keeps running.
Every outcome is a `SwapEvent`.

On a machine with few cores the loading must not take CPU from the frames. ONNX Runtime's graph
optimizer (most of a load) and the warm-up inference run on a thread of low priority, in a
one-thread session that writes the optimized model. The live session is then opened from that
file (~20 ms, graph already optimized, weights packed) right after a frame ends, in the idle
time before the next, with its pool threads sleeping rather than spinning while they wait for
work: a new pool's spinning threads take a core from the frames until their first run. Its
first frame is then ~1-3 ms slower than the next ones (measured), not a warm-up's worth.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tvdesk.core.detector.onnx_detector import KEEP, OnnxDetector, Thresholds
from tvdesk.core.detector.onnx_model import (
    DetectorError,
    model_version,
    runs_on_cpu_only,
    save_optimized,
)

logger = logging.getLogger(__name__)

# The nice value of the thread that optimizes and checks a model before a swap: it yields to the
# frames (nice 0) but is not starved when they keep the CPU busy (nice 19 would get ~1.5% of a
# core then; 10 gets ~10%, the share of the local training worker).
LOAD_NICE = 10


@dataclass(frozen=True)
class SwapEvent:
    """A model swapped in, or one rejected (then `reason` says why), for the store and UI."""

    accepted: bool
    path: Path
    old_version: str
    new_version: str
    reason: str = ""
    class_change: str = ""  # what changed in the class list, when it did
    load_ms: float = 0.0  # from the call to the new model ready (all the work below)
    warmup_ms: float = 0.0  # the check inference on a real-sized frame
    open_ms: float = 0.0  # opening the live session, between two frames
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
        self._gaps = FrameGaps()  # when frames end
        detector.frame_scope = self._gaps
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

    def load_and_swap(
        self,
        path: str | Path,
        *,
        sample: np.ndarray | None = None,
        imgsz: int | tuple[int, int] | object | None = KEEP,
        replacing: Path | None = None,
    ) -> SwapEvent | None:
        """Load, check and warm up `path` off the frame thread, then swap it in between two
        frames; `imgsz` runs it at another input size (default: the live detector's).

        Blocking; call it off the frame thread. The warm-up runs on `sample` if given, else on a
        grey frame of the size the stream last had. Never raises for a bad model: the event
        says whether it was swapped in or rejected and why. With `replacing`, only while that
        file is the live model (checked when no other swap can come between): None otherwise.
        """
        path = Path(path)
        with self._swap_lock:
            if replacing is not None and not _is_file(self._current.path, replacing):
                running = _is_file(self._current.path, path)
                why = "it runs already" if running else f"{replacing} no longer runs"
                logger.info("not swapping in %s: %s", path, why)
                return None
            event = self._swap(path, sample, imgsz)
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

    def _swap(self, path: Path, sample: np.ndarray | None, imgsz: object) -> SwapEvent:
        old = self._current
        options = asdict(old.options) | ({} if imgsz is KEEP else {"imgsz": imgsz})
        started = time.perf_counter()
        open_ms = warmup_ms = 0.0
        try:
            with _checked_copy(path, old, sample, options) as (preoptimized, warmup_ms):
                self._gaps.wait_for_gap()
                opening = time.perf_counter()
                new = OnnxDetector(
                    path,
                    **_threshold_kwargs(old.thresholds),
                    **options | {"spin": False},
                    preoptimized=preoptimized,
                )
                open_ms = (time.perf_counter() - opening) * 1e3
            if preoptimized is None:  # an accelerator: warm up the live session itself
                warmup_ms = new.warm_up(old.last_frame_hw, sample)
        except DetectorError as exc:
            return SwapEvent(
                False,
                path,
                old.version,
                model_version(path),
                reason=str(exc),
                load_ms=(time.perf_counter() - started) * 1e3,
                open_ms=open_ms,
                at=time.time(),
            )
        loaded = time.perf_counter()
        new.frame_scope = self._gaps
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
            open_ms=open_ms,
            at=time.time(),
        )


class FrameGaps:
    """When frames end (`with gaps:` around each frame), so that other work can start right after
    one, in the idle time before the next: a camera delivers frames at a fixed rate and a
    detector that keeps pace waits between one frame's end and the next one's arrival. When no
    frame has ended for a while (no stream, or paused), nobody waits.
    """

    def __init__(self, idle_after_s: float = 0.5) -> None:
        self._idle_after_s = idle_after_s
        self._ended = threading.Condition()
        self._frames = 0
        self._last_end = float("-inf")

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        with self._ended:
            self._frames += 1
            self._last_end = time.monotonic()
            self._ended.notify_all()

    def wait_for_gap(self) -> bool:
        """Block until the next frame ends (True); False at once when none is being processed,
        or after the idle time at most."""
        with self._ended:
            if time.monotonic() - self._last_end > self._idle_after_s:
                return False
            seen = self._frames
            return self._ended.wait_for(lambda: self._frames != seen, self._idle_after_s)


@contextlib.contextmanager
def _checked_copy(
    path: Path, old: OnnxDetector, sample: np.ndarray | None, options: dict[str, object]
) -> Iterator[tuple[Path | None, float]]:
    """On a thread of low priority: `path` optimized for this CPU, opened and checked
    with one inference on a real-sized frame; yields the optimized file and that inference's
    ms (the file is removed afterwards). Yields (None, 0) when the model will run on an
    accelerator, which does its own optimizing; the caller then warms up the live session."""
    if not path.is_file() or not runs_on_cpu_only(path, old.options.providers):
        yield None, 0.0
        return
    with tempfile.TemporaryDirectory(prefix="tvdesk-swap-") as folder:
        target = Path(folder) / "optimized.onnx"
        outcome: list[float | Exception] = []

        def optimize_and_check() -> None:
            low_priority_for_this_thread()
            try:
                save_optimized(path, target)
                one = options | {"threads": 1}  # no pool threads to inherit its low priority
                checker = OnnxDetector(path, **one, preoptimized=target)
                outcome.append(checker.warm_up(old.last_frame_hw, sample))
            except Exception as exc:  # raised again on the swapping thread
                outcome.append(exc)

        worker = threading.Thread(target=optimize_and_check, name="tvdesk-model-check")
        worker.start()
        worker.join()
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        yield target, outcome[0]


def _is_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def low_priority_for_this_thread() -> None:
    """`LOAD_NICE` for the calling thread only: Linux gives each thread its own nice value
    (elsewhere a thread id is no process id, so nothing is done). Threads it starts inherit
    it, so it must not open a session with a thread pool that will serve frames."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOAD_NICE)


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
