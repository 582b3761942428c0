"""One detection engine for many cameras: the CPU's inference shared fairly between them.

Every camera plays on its own frame loop, but a loop detects only when the engine gives it a
turn. Turns go round the cameras in the order they asked, `concurrent` at a time, and a
camera asks again only once its frame is done, so no camera gets a second turn while another
waits. The policy, stated: with N cameras wanting frames, each gets 1/N of the detections the
CPU can run; when the CPU is short every camera's detection rate drops by the same share, and
since each loop reads its source latest-frame-wins, a camera that waits drops stale frames
instead of queueing them. A camera that stalls (its source silent) simply asks for no turn.

Frames of several cameras run stacked in one ONNX Runtime call when their models allow it
(`detect`): the camera at the head of the queue takes, into its turn, the frames waiting of
the cameras that run the same model file and version at the same input size (a retrained
camera runs alone, or with the cameras of its own version), at most `max_batch` of them.
Each camera letterboxes its frame before it queues and decodes its own boxes after, so only
the inference is shared; the boxes are those of a single run (measured identical, fp32 and
int8). So the cameras on the head camera's model get more frames than one on another model
when the CPU is short (up to 16 % more at 9-16 cameras here), none fewer than without
stacking. Measured (`python -m bench.cameras --batch`): 8-13 % more frames a second in all
from 9 cameras up, the same at 4 (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import Detections

MAX_BATCH = 4


@dataclass
class CameraShare:
    """What one camera got from the engine."""

    turns: int = 0
    waited_s: float = 0.0
    last_turn: float = 0.0  # time.monotonic() of its last turn

    @property
    def mean_wait_ms(self) -> float:
        return self.waited_s / self.turns * 1e3 if self.turns else 0.0


@dataclass(eq=False)
class _Request:
    """A camera's place in the queue: a ticket, or a prepared frame that may ride in a batch."""

    camera: str
    asked: float
    key: tuple | None = None  # frames with equal keys may run stacked
    tensor: np.ndarray | None = None
    raw: np.ndarray | None = None  # the frame's model output, once run
    inference_ms: float = 0.0
    error: BaseException | None = None
    done: bool = False


class DetectionEngine:
    """Fair turns at the detector for the cameras' frame loops (thread-safe); `max_batch`
    frames of cameras on the same model at most in one call (1: one frame a call)."""

    def __init__(self, concurrent: int = 1, max_batch: int = MAX_BATCH) -> None:
        if concurrent < 1:
            raise ValueError(f"concurrent must be 1 or more, got {concurrent}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be 1 or more, got {max_batch}")
        self.concurrent = concurrent
        self.max_batch = max_batch
        self._lock = threading.Condition()
        self._waiting: deque[_Request] = deque()  # oldest first
        self._running = 0
        self._shares: dict[str, CameraShare] = {}
        self.batches: dict[int, int] = {}  # frames a call -> calls

    @contextlib.contextmanager
    def turn(self, camera: str) -> Iterator[None]:
        """Wait for `camera`'s turn, then hold it while the frame is detected."""
        request = _Request(camera, time.monotonic())
        with self._lock:
            self._queue_and_wait(request)
        try:
            yield
        finally:
            self._release()

    def detect(self, camera: str, detector: object, frame: np.ndarray) -> Detections:
        """`detector.detect(frame)` in `camera`'s turn, run stacked with the frames of other
        cameras on the same model that wait meanwhile (an `OnnxDetector` whose input takes
        batches; any other detector runs alone)."""
        if not isinstance(detector, OnnxDetector):
            with self.turn(camera):
                return detector.detect(frame)  # type: ignore[attr-defined]
        with detector.frame_scope:
            prepared = detector.prepare_frame(frame)
            if isinstance(prepared, Detections):
                return prepared
            request = _Request(
                camera, time.monotonic(), detector.batch_key(prepared), prepared.tensor
            )
            with self._lock:
                batch = self._queue_and_wait(request)
            if batch:
                self._run(detector, batch)
            if request.error is not None:
                raise request.error
            return detector.finish_frame(prepared, request.raw, request.inference_ms)

    def _queue_and_wait(self, request: _Request) -> list[_Request]:
        """(Holding the lock) queue `request` and wait until it is done in another camera's
        batch (returns []), or it heads the queue with a free turn: then it takes the turn
        and the waiting requests with its key (returns them, itself first)."""
        self._waiting.append(request)
        self._lock.wait_for(
            lambda: (
                request.done or (self._running < self.concurrent and self._waiting[0] is request)
            )
        )
        if request.done:
            return []
        batch = [request]
        if request.key is not None:
            same = [r for r in self._waiting if r is not request and r.key == request.key]
            batch += same[: self.max_batch - 1]
        now = time.monotonic()
        for member in batch:
            self._waiting.remove(member)
            share = self._shares.setdefault(member.camera, CameraShare())
            share.turns += 1
            share.waited_s += now - member.asked
            share.last_turn = now
        self._running += 1
        self._lock.notify_all()
        return batch

    def _run(self, detector: OnnxDetector, batch: list[_Request]) -> None:
        """Run `batch`'s frames in one call of `detector`'s session; hand each its output
        (or the error, which each frame's thread raises)."""
        started, raw, error = time.perf_counter(), None, None
        try:
            tensors = [member.tensor for member in batch]
            raw = detector.run(tensors[0] if len(batch) == 1 else np.concatenate(tensors))
        except Exception as exc:
            error = exc
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1e3
            with self._lock:
                for index, member in enumerate(batch):
                    member.raw = None if raw is None else raw[index : index + 1]
                    member.error = (
                        None
                        if raw is not None
                        else error or RuntimeError("the call this frame ran in was interrupted")
                    )
                    member.inference_ms, member.done = elapsed_ms, True
                self.batches[len(batch)] = self.batches.get(len(batch), 0) + 1
                self._running -= 1
                self._lock.notify_all()

    def _release(self) -> None:
        with self._lock:
            self._running -= 1
            self._lock.notify_all()

    def shares(self) -> dict[str, CameraShare]:
        """A copy of each camera's share so far."""
        with self._lock:
            return {
                k: CameraShare(v.turns, v.waited_s, v.last_turn) for k, v in self._shares.items()
            }

    def forget(self, camera: str) -> None:
        with self._lock:
            self._shares.pop(camera, None)
