"""The player controller: one detector slot, the frame loop of the current source, and playback
commands (open, pause, step, seek, thresholds, model swap) for the widgets to call.

Each source plays as a camera of the live session (`LiveSession.play`): the camera's model,
drift monitor, capture and recorder, and the session hears when the loop ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.session.live import LiveSession
from tvdesk.core.sources import SourceError, SourceInfo, VideoSource, open_source
from tvdesk.ui.frame_bridge import FrameBridge

logger = logging.getLogger(__name__)


class PlayerController(QObject):
    """Lives on the GUI thread; the frame loop runs on its own thread and reports through a bridge.

    Signals:
        source_opened(SourceInfo): a new source is playing.
        result_ready(FrameResult): the newest processed frame (older ones may be skipped).
        finished(LoopOutcome): the current source ended, was stopped or failed.
        swapped(SwapEvent): a model was swapped in or rejected.
        source_event(SourceEvent): the source dropped, is reconnecting, came back...
        error(str): something the operator must know, as a sentence.
    """

    source_opened = Signal(object)
    result_ready = Signal(object)
    finished = Signal(object)
    swapped = Signal(object)
    source_event = Signal(object)
    error = Signal(str)

    def __init__(self, session: LiveSession) -> None:
        super().__init__()
        self.session = session
        self.slot = slot = session.slot
        self.settings = session.settings
        self.loop: FrameLoop | None = None
        self.info: SourceInfo | None = None
        self._bridge: FrameBridge | None = None
        self._step_pending = False
        slot.subscribe(self.swapped.emit)  # emitted from the swapping thread: queued to slots

    # -- sources ---------------------------------------------------------------------------

    def open(self, spec: str, *, loop_file: bool = False) -> bool:
        """Stop what plays, open `spec` and play it; False (and `error`) if it cannot open."""
        try:
            source = open_source(
                spec,
                loop=loop_file,
                scenario=self.settings.scenario,
                synthetic_fps=self.settings.synthetic_fps,
            )
        except SourceError as exc:
            self.error.emit(str(exc))
            return False
        self.play(source)
        return True

    def play(self, source: VideoSource, *, every_frame: bool = False) -> None:
        """Play `source` instead of what plays; `every_frame`: a file or synthetic source is
        run as fast as frames are processed instead of at its own pace (tests, benchmarks)."""
        self.close_source()
        source.subscribe(self.source_event.emit)  # on the reading thread: queued to slots
        bridge = FrameBridge(self)
        bridge.result_ready.connect(self._on_bridge_ready, Qt.ConnectionType.QueuedConnection)
        bridge.finished.connect(self.finished, Qt.ConnectionType.QueuedConnection)
        try:
            loop = self.session.play(
                source, consumers=[self._consume_on_worker, bridge.consume], every_frame=every_frame
            )
        except Exception as exc:
            source.close()
            logger.exception("%s cannot play", source.info.name)
            self.error.emit(f"{source.info.name} cannot play: {exc}")
            return
        loop.on_finished(bridge.loop_finished)
        self.loop, self.info, self._bridge = loop, source.info, bridge
        loop.start()
        self.source_opened.emit(source.info)

    def close_source(self) -> None:
        if self.loop is not None:
            if not self.loop.stop():
                logger.warning("the frame loop of %s took long to stop", self.info.name)
            self.loop = None

    # -- playback --------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.loop is not None and self.loop.paused

    def toggle_pause(self) -> None:
        if self.loop is None:
            return
        self.loop.resume() if self.loop.paused else self.loop.pause()

    def step(self) -> None:
        """Show exactly one more frame, then stay paused."""
        if self.loop is None:
            return
        self._step_pending = True
        self.loop.resume()

    def seek(self, index: int) -> None:
        if self.loop is None or not (self.info and self.info.seekable):
            return
        self.loop.seek(index)
        if self.loop.paused:
            self.step()

    def set_confidence(self, conf: float) -> None:
        self.slot.set_thresholds(conf=conf)

    def set_class_filter(self, class_ids: Sequence[int] | None) -> None:
        self.slot.set_thresholds(classes=None if class_ids is None else tuple(class_ids))

    def swap_model(self, path: Path) -> None:
        """Load, check and swap in a model on a background thread; `swapped` says how it went."""
        threading.Thread(
            target=self.slot.load_and_swap, args=(path,), daemon=True, name="tvdesk-model-swap"
        ).start()

    # -- plumbing --------------------------------------------------------------------------

    def _consume_on_worker(self, result: FrameResult) -> None:
        if self._step_pending and self.loop is not None:
            self._step_pending = False
            self.loop.pause()  # on the loop's own thread: no second frame slips through

    @Slot()
    def _on_bridge_ready(self) -> None:
        bridge = self.sender()
        if bridge is not self._bridge:
            return  # a result of a source that has since been closed
        result = bridge.take()
        if result is not None:
            self.result_ready.emit(result)
