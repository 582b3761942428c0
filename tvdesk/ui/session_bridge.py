"""Turns the live session's callbacks (from its own threads) into Qt signals on the GUI thread,
and runs the operator's decisions (approve, dismiss, activate, roll back) off the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from tvdesk.core.session.events import (
    AlarmEnded,
    AlarmRaised,
    BaselineLearnt,
    DiskSpaceLow,
    JobQueued,
    ModelPromoted,
    SessionError,
)
from tvdesk.core.session.live import LiveSession
from tvdesk.ui.background import run_in_background

logger = logging.getLogger(__name__)


class SessionBridge(QObject):
    """The GUI's side of one `LiveSession`.

    Signals:
        alarm_raised(AlarmRaised): a drift alarm, with sample frames and the retraining plan.
        alarm_ended(AlarmEnded): the alarm settled.
        job_queued(JobQueued): a retraining was queued (approved by hand or automatically).
        model_promoted(ModelPromoted): the registry's active version changed.
        dismissed(int): the operator's dismissal of this drift event was recorded.
        camera_changed(Camera): the playing camera was renamed or learnt its normal.
        shapes_changed(list): the playing camera's counting lines and zones (CountingShape),
            after one was added, moved or deleted, or when asked for (`load_shapes`).
        error(str): something failed, or is about to (low disk space); a sentence for the
            operator.
    """

    alarm_raised = Signal(object)
    alarm_ended = Signal(object)
    job_queued = Signal(object)
    model_promoted = Signal(object)
    dismissed = Signal(int)
    camera_changed = Signal(object)
    shapes_changed = Signal(object)
    error = Signal(str)
    _arrived = Signal(object)

    def __init__(self, session: LiveSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._signals = {
            AlarmRaised: self.alarm_raised,
            AlarmEnded: self.alarm_ended,
            JobQueued: self.job_queued,
            ModelPromoted: self.model_promoted,
        }
        self._arrived.connect(self.on_arrived, Qt.ConnectionType.QueuedConnection)
        session.subscribe(self._arrived.emit)  # from the session's threads: queued

    @Slot(object)
    def on_arrived(self, event: object) -> None:
        if isinstance(event, SessionError | DiskSpaceLow):
            self.error.emit(event.message)
            return
        if isinstance(event, BaselineLearnt):
            self.camera_changed.emit(event.camera)
            return
        signal = self._signals.get(type(event))
        if signal is None:
            # SwapDone: the player reports swaps itself (it subscribes to the slot)
            return
        signal.emit(event)

    # -- the operator's decisions, off the GUI thread ----------------------------------------

    def approve(self, event_id: int, labels: str = "") -> None:
        """Queue the retraining (on `labels`, a labelling tool's export, when given);
        `job_queued` or `error` says how it went."""
        run_in_background(
            lambda: self.session.approve(event_id, labels=labels or None),
            what=f"approving the retraining of drift event {event_id}",
            failed=lambda exc: self.error.emit(f"The retraining could not be queued: {exc}"),
        )

    def dismiss(self, event_id: int, expected: bool = False) -> None:
        run_in_background(
            lambda: self.session.dismiss(event_id, expected),
            what=f"dismissing drift event {event_id}",
            done=lambda _: self.dismissed.emit(event_id),
            failed=lambda exc: self.error.emit(f"The dismissal was not recorded: {exc}"),
        )

    def activate(self, model_id: int) -> None:
        run_in_background(
            lambda: self.session.activate(model_id),
            what=f"activating model {model_id}",
            failed=lambda exc: self.error.emit(f"The model was not activated: {exc}"),
        )

    def rename_camera(self, name: str) -> None:
        run_in_background(
            lambda: self.session.rename_camera(name),
            what=f"renaming the camera to {name!r}",
            done=self.camera_changed.emit,
            failed=lambda exc: self.error.emit(f"The camera was not renamed: {exc}"),
        )

    def relearn(self) -> None:
        """The playing camera learns its normal again; `camera_changed` comes when it has."""
        run_in_background(
            self.session.relearn,
            what="re-learning the camera's normal",
            failed=lambda exc: self.error.emit(f"The camera cannot re-learn now: {exc}"),
        )

    def load_shapes(self) -> None:
        run_in_background(
            self.session.counting_shapes.all,
            what="reading the camera's counting lines and zones",
            done=self.shapes_changed.emit,
            failed=lambda exc: self.error.emit(f"The counting lines could not be read: {exc}"),
        )

    def add_shape(self, kind: str, points: object) -> None:
        """Store a new line or zone for the playing camera; a bad one is an `error` notice."""
        self._change_shapes(
            lambda: self.session.counting_shapes.add(kind, points), f"The new {kind} was not saved"
        )

    def move_shape(self, shape_id: int, points: object) -> None:
        self._change_shapes(
            lambda: self.session.counting_shapes.move(shape_id, points), "The change was not saved"
        )

    def delete_shape(self, shape_id: int) -> None:
        self._change_shapes(
            lambda: self.session.counting_shapes.delete(shape_id), "It was not deleted"
        )

    def _change_shapes(self, change: Callable[[], object], failure: str) -> None:
        """Run `change`, then report the camera's shapes as they are now, changed or not."""

        def failed(exc: Exception) -> None:
            self.error.emit(f"{failure}: {exc}")
            self.load_shapes()

        run_in_background(
            change,
            what="changing a counting line or zone",
            done=lambda _: self.load_shapes(),
            failed=failed,
        )

    def rollback(self) -> None:
        run_in_background(
            self.session.rollback,
            what="rolling back the model",
            failed=lambda exc: self.error.emit(f"Roll back failed: {exc}"),
        )
