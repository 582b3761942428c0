"""One detection engine for many cameras: the CPU's inference shared fairly between them.

Every camera plays on its own frame loop, but a loop detects only when the engine gives it a
turn. Turns go round the cameras in the order they asked, `concurrent` at a time, and a
camera asks again only once its frame is done, so no camera gets a second turn while another
waits. The policy, stated: with N cameras wanting frames, each gets 1/N of the detections the
CPU can run; when the CPU is short every camera's detection rate drops by the same share, and
since each loop reads its source latest-frame-wins, a camera that waits drops stale frames
instead of queueing them. A camera that stalls (its source silent) simply asks for no turn.

Batching frames of several cameras into one ONNX Runtime call is not done: measured here on
the 320x192 YOLOv8n, a batch of 4 took 0.78-0.91x the time of 4 single runs, but it needs
the cameras to share one session, one model version and one input shape, which retrained
cameras do not.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class CameraShare:
    """What one camera got from the engine."""

    turns: int = 0
    waited_s: float = 0.0
    last_turn: float = 0.0  # time.monotonic() of its last turn

    @property
    def mean_wait_ms(self) -> float:
        return self.waited_s / self.turns * 1e3 if self.turns else 0.0


class DetectionEngine:
    """Fair turns at the detector for the cameras' frame loops (thread-safe)."""

    def __init__(self, concurrent: int = 1) -> None:
        if concurrent < 1:
            raise ValueError(f"concurrent must be 1 or more, got {concurrent}")
        self.concurrent = concurrent
        self._lock = threading.Condition()
        self._waiting: deque[object] = deque()  # tickets, oldest first
        self._running = 0
        self._shares: dict[str, CameraShare] = {}

    @contextlib.contextmanager
    def turn(self, camera: str) -> Iterator[None]:
        """Wait for `camera`'s turn, then hold it while the frame is detected."""
        ticket, asked = object(), time.monotonic()
        with self._lock:
            self._waiting.append(ticket)
            self._lock.wait_for(
                lambda: self._running < self.concurrent and self._waiting[0] is ticket
            )
            self._waiting.popleft()
            self._running += 1
            share = self._shares.setdefault(camera, CameraShare())
            now = time.monotonic()
            share.turns, share.waited_s, share.last_turn = (
                share.turns + 1,
                share.waited_s + now - asked,
                now,
            )
            self._lock.notify_all()
        try:
            yield
        finally:
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
