"""Follows the version a camera runs in the store: when a job promotes a new one, or the
operator activates or rolls back one (in this process or another), the detector slot swaps to
it between two frames."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from tvdesk.core.detector import DetectorSlot, SwapEvent
from tvdesk.core.store import Store
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

Promoted = Callable[[ModelVersion, ModelVersion | None], None]


class ModelFollower:
    """Polls camera `camera_id`'s active version every `poll_s` on its own thread."""

    def __init__(self, db_path: Path, poll_s: float, on_change: Promoted) -> None:
        self.db_path = db_path
        self.poll_s = poll_s
        self.on_change = on_change
        self._lock = threading.Lock()
        self._camera_id: int | None = None
        self._model_id: int | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tvdesk-registry")

    def start(self) -> ModelFollower:
        self._thread.start()
        return self

    def follow(self, camera_id: int | None, model_id: int | None) -> None:
        """Watch `camera_id`, which runs `model_id` now (None: watch nothing)."""
        with self._lock:
            self._camera_id, self._model_id = camera_id, model_id

    def check(self, store: Store) -> None:
        """Look once: report a change of the followed camera's version."""
        with self._lock:
            camera_id, known = self._camera_id, self._model_id
            if camera_id is None:
                return
            current = store.cameras.get(camera_id).model_id
            if current is None or current == known:
                return
            self._model_id = current
        previous = store.models.get(known) if known is not None else None
        self.on_change(store.models.get(current), previous)

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
