"""Follows the version a camera runs in the store: when a job promotes a new one, or the
operator activates or rolls back one (in this process or another), the detector slot swaps to
it between two frames. And its int8 copy: a retrained version goes live in fp32 and gets its
copy a minute or so later (`tvdesk.retrain.job_int8`); when the version's card records a copy
that passed its gate, the follower says so, and the player times it and takes it up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from tvdesk.core.detector import DetectorSlot, SwapEvent
from tvdesk.core.detector.int8_copy import read_gate
from tvdesk.core.store import Store
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

Promoted = Callable[[ModelVersion, ModelVersion | None], None]
Int8Passed = Callable[[ModelVersion], None]


class ModelFollower:
    """Polls camera `camera_id`'s active version every `poll_s` on its own thread: a change
    goes to `on_change(new, previous)`; an int8 copy of the version that passed its gate since
    it was last looked at goes to `on_int8(version)`."""

    def __init__(
        self,
        db_path: Path,
        poll_s: float,
        on_change: Promoted,
        on_int8: Int8Passed | None = None,
    ) -> None:
        self.db_path = db_path
        self.poll_s = poll_s
        self.on_change = on_change
        self.on_int8 = on_int8
        self._lock = threading.Lock()
        self._camera_id: int | None = None
        self._model_id: int | None = None
        self._version: ModelVersion | None = None  # the followed version, read once
        self._int8: tuple[bool, str] | None = None  # its card's int8 verdict (passed, checksum)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tvdesk-registry")

    def start(self) -> ModelFollower:
        self._thread.start()
        return self

    def follow(self, camera_id: int | None, model_id: int | None) -> None:
        """Watch `camera_id`, which runs `model_id` now (None: watch nothing)."""
        with self._lock:
            self._camera_id, self._model_id = camera_id, model_id
            self._version, self._int8 = None, None

    def check(self, store: Store) -> None:
        """Look once: report a change of the followed camera's version, else an int8 copy of
        its version that passed its gate since the last look."""
        with self._lock:
            camera_id, known = self._camera_id, self._model_id
            if camera_id is None:
                return
            current = store.cameras.get(camera_id).model_id
            if current is None:
                return
            if current == known:
                version = self._int8_passed(store, current)
                if version is None:
                    return
            else:
                self._model_id = current
                self._version, self._int8 = None, None
                self._int8_passed(store, current)  # what its card says now: no news
                version = None
        if version is not None:
            self.on_int8(version)
            return
        previous = store.models.get(known) if known is not None else None
        self.on_change(store.models.get(current), previous)

    def _int8_passed(self, store: Store, model_id: int) -> ModelVersion | None:
        """The followed version when its card's int8 verdict turned to a pass since the last
        look (under the lock); None otherwise. The first look only records the verdict."""
        if self.on_int8 is None:
            return None
        if self._version is None:  # reset whenever the followed version changes
            self._version = store.models.get(model_id)
        gate = read_gate(self._version.path)
        seen, self._int8 = self._int8, (gate.passed, gate.sha256) if gate else (False, "")
        passed_now = seen is not None and self._int8 != seen and self._int8[0]
        return self._version if passed_now else None

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _run(self) -> None:
        from tvdesk.core.store import Store  # this thread's own connection

        with Store(self.db_path) as store:
            while not self._closed.wait(self.poll_s):
                try:
                    self.check(store)
                except Exception:
                    logger.exception("following the camera's model version failed")


def swap_failed_message(version: ModelVersion, swap: SwapEvent) -> str:
    return f"model {version.name} {version.version} was not swapped in: {swap.reason}"


def same_file(slot: DetectorSlot, path: Path) -> bool:
    return Path(slot.current.path).resolve() == Path(path).resolve()
