"""The drift banner: on an alarm, what drifted, sample frames of the drift window, the retraining
plan, and the operator's choice (approve, dismiss, or dismiss as expected)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from tvdesk.core.drift.explain import label
from tvdesk.core.session.events import AlarmEnded, AlarmRaised, JobQueued
from tvdesk.ui.background import run_in_background

THUMBNAIL = QSize(120, 68)
NAMED_DRIVERS = 4  # drivers named in the banner (the dashboard shows them all)
HIDE_AFTER_QUEUED_MS = 8000
STYLE = """
DriftBannerWidget { background: #fff1e0; border: 2px solid #e66100; border-radius: 6px; }
QLabel { color: #241f31; }
QLabel#title { font-size: 13pt; font-weight: bold; color: #a51d2d; }
"""


class DriftBannerWidget(QFrame):
    """Shown above the video while an alarm waits for the operator's decision.

    Signals:
        approve_requested(int): the operator approved the retraining of this drift event.
        approve_with_labels_requested(int, str): approved it with a labelling tool's export.
        dismiss_requested(int, bool): dismissed this event; True: as an expected condition.
    """

    approve_requested = Signal(int)
    approve_with_labels_requested = Signal(int, str)
    dismiss_requested = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("driftBanner")
        self.setStyleSheet(STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.event_id: int | None = None
        self.title = QLabel(objectName="title")
        self.summary = QLabel(wordWrap=True)
        self.drivers = QLabel(wordWrap=True)
        self.plan = QLabel(wordWrap=True)
        self.strip = QHBoxLayout()
        self.strip.setSpacing(6)
        self.thumbnails: list[QLabel] = []
        self.approve_button = QPushButton("&Approve retraining")
        self.approve_button.setDefault(True)
        self.labels_button = QPushButton("Approve with my &labels…")
        self.labels_button.setToolTip(
            "Retrain on labels from a labelling tool (YOLO, COCO JSON or Pascal VOC export of "
            "this alarm's frames, exported with `tvdesk retrain --export-frames`)"
        )
        self.dismiss_button = QPushButton("&Dismiss")
        self.expected_button = QPushButton("Dismiss, this is &expected here")
        self.expected_button.setToolTip(
            "The drift monitor learns this condition as normal and stops alarming on it"
        )
        self.approve_button.clicked.connect(self.on_approve_clicked)
        self.labels_button.clicked.connect(self.on_approve_with_labels_clicked)
        self.dismiss_button.clicked.connect(lambda: self._dismiss(False))
        self.expected_button.clicked.connect(lambda: self._dismiss(True))
        self._hide_timer = QTimer(self, singleShot=True, interval=HIDE_AFTER_QUEUED_MS)
        self._hide_timer.timeout.connect(self.hide)
        self._build()
        self.hide()

    def _build(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.plan, 1)
        for button in self._decisions():
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.drivers)
        layout.addLayout(self.strip)
        layout.addLayout(buttons)

    # -- what the session says ---------------------------------------------------------------

    @Slot(object)
    def show_alarm(self, alarm: AlarmRaised) -> None:
        event = alarm.event
        self.event_id = event.id
        self._hide_timer.stop()
        clock = time.strftime("%H:%M:%S")
        self.title.setText(f"Drift detected at {clock} (stream time {event.start:.0f} s)")
        self.summary.setText(event.summary or "The input no longer looks like the training data.")
        self.drivers.setText(describe_drivers(event.drivers))
        plan = alarm.plan.describe() if alarm.plan else "this session cannot retrain"
        self.plan.setText(f"<b>Retraining plan:</b> {plan}")
        self._set_buttons(True)
        self._show_samples(alarm.samples)
        self.show()

    @Slot(object)
    def on_alarm_ended(self, ended: AlarmEnded) -> None:
        event = ended.event
        if event.id != self.event_id or not self.isVisible():
            return
        lasted = f" after {event.end - event.start:.0f} s of stream" if event.end else ""
        self.title.setText(f"Drift alarm ended{lasted}")

    @Slot(object)
    def on_job_queued(self, queued: JobQueued) -> None:
        if queued.job.params.get("event_id") != self.event_id:
            return
        self.title.setText(f"Retraining queued as job {queued.job.id}")
        self.plan.setText(f"On the {queued.queue} queue; follow it in the Jobs panel.")
        self._set_buttons(False)
        self._hide_timer.start()

    @Slot(int)
    def on_dismissed(self, event_id: int) -> None:
        if event_id == self.event_id:
            self.hide()

    # -- the operator ------------------------------------------------------------------------

    @Slot()
    def on_approve_clicked(self) -> None:
        if self.event_id is not None:
            self._set_buttons(False)
            self.plan.setText("Queuing the retraining…")
            self.approve_requested.emit(self.event_id)

    @Slot()
    def on_approve_with_labels_clicked(self) -> None:
        if self.event_id is None:
            return
        name, _ = QFileDialog.getOpenFileName(
            self,
            "A labelling tool's export of this alarm's frames",
            "",
            "Label exports (*.json *.yaml *.yml *.txt *.xml);;All files (*)",
        )
        if name:
            export = Path(name) if name.lower().endswith(".json") else Path(name).parent
            self._set_buttons(False)
            self.plan.setText(f"Queuing the retraining on the labels in {export}…")
            self.approve_with_labels_requested.emit(self.event_id, str(export))

    def _dismiss(self, expected: bool) -> None:
        if self.event_id is not None:
            self._set_buttons(False)
            self.dismiss_requested.emit(self.event_id, expected)

    def enable_decision(self) -> None:
        """The decision failed (the notice says why): let the operator try again."""
        self._set_buttons(True)

    def _set_buttons(self, enabled: bool) -> None:
        for button in self._decisions():
            button.setEnabled(enabled)

    def _decisions(self) -> tuple[QPushButton, ...]:
        return (self.approve_button, self.labels_button, self.dismiss_button, self.expected_button)

    # -- sample frames ---------------------------------------------------------------------

    def _show_samples(self, samples: Sequence[Path]) -> None:
        while self.strip.count():
            item = self.strip.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.thumbnails = []
        for path in samples:
            thumbnail = QLabel("…", alignment=Qt.AlignmentFlag.AlignCenter)
            thumbnail.setFixedSize(THUMBNAIL)
            thumbnail.setStyleSheet("background: #241f31; color: #deddda;")
            thumbnail.setToolTip(path.name)
            self.strip.addWidget(thumbnail)
            self.thumbnails.append(thumbnail)
            run_in_background(
                lambda p=path: load_thumbnail(p),
                what=f"loading {path.name}",
                done=lambda image, t=thumbnail: _set_image(t, image),
            )
        self.strip.addStretch(1)


def describe_drivers(drivers: dict[str, float]) -> str:
    """'Drivers: brightness -12.1σ · contrast -6.0σ' (the largest first)."""
    ranked = sorted(drivers.items(), key=lambda item: -abs(item[1]))
    named = " · ".join(f"{label(n)} {v:+.1f}σ" for n, v in ranked[:NAMED_DRIVERS])
    more = len(ranked) - NAMED_DRIVERS
    return f"Drivers: {named}" + (f" and {more} more" if more > 0 else "") if ranked else ""


def load_thumbnail(path: Path) -> QImage:
    """A frame scaled to the thumbnail size (on a pool thread: QImage, not QPixmap)."""
    image = QImage(str(path))
    return image.scaled(
        THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def _set_image(thumbnail: QLabel, image: QImage) -> None:
    if isValid(thumbnail):  # else a newer alarm replaced it before its image arrived
        thumbnail.setPixmap(QPixmap.fromImage(image))
