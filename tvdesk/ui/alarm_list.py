"""One list of every camera's drift alarms: when, which camera, what drifted, a sample frame and
where it stands (raised, ended, approved as job N, dismissed). Approve and Dismiss act on the
alarm's own camera; Show (or a double-click) brings that camera and its alarm forward."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QSize, Signal, Slot
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.session.events import AlarmEnded, AlarmRaised, JobQueued
from tvdesk.ui.camera_wall import WallCamera
from tvdesk.ui.drift_banner import load_thumbnail

COLUMNS = ("Time", "Camera", "What drifted", "State")
THUMB = QSize(96, 54)


@dataclass
class AlarmRow:
    camera: WallCamera
    alarm: AlarmRaised
    state: str = "raised"
    at: float = 0.0  # time.time() when it was raised


class AlarmListWidget(QWidget):
    """The alarms of the cameras it watches, newest first.

    Signals:
        show_requested(WallCamera, AlarmRaised): bring this camera and its alarm forward.
        approve_requested(WallCamera, int): approve this camera's drift event.
        dismiss_requested(WallCamera, int): dismiss it.
    """

    show_requested = Signal(object, object)
    approve_requested = Signal(object, int)
    dismiss_requested = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[AlarmRow] = []
        self._cameras: dict[object, WallCamera] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setIconSize(THUMB)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self.on_show_clicked)
        self.show_button = QPushButton("&Show")
        self.approve_button = QPushButton("&Approve retraining")
        self.dismiss_button = QPushButton("&Dismiss")
        self.show_button.clicked.connect(self.on_show_clicked)
        self.approve_button.clicked.connect(lambda: self._decide(self.approve_requested))
        self.dismiss_button.clicked.connect(lambda: self._decide(self.dismiss_requested))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.show_button, self.approve_button, self.dismiss_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def watch(self, camera: WallCamera) -> None:
        """List `camera`'s alarms from now on."""
        bridge = camera.bridge
        self._cameras[bridge] = camera
        bridge.alarm_raised.connect(self.on_alarm_raised)
        bridge.alarm_ended.connect(self.on_alarm_ended)
        bridge.job_queued.connect(self.on_job_queued)
        bridge.dismissed.connect(self.on_dismissed)

    def forget(self, camera: WallCamera) -> None:
        self._cameras.pop(camera.bridge, None)

    @Slot(object)
    def on_alarm_raised(self, alarm: AlarmRaised) -> None:
        camera = self._cameras.get(self.sender())
        if camera is not None:
            self.rows.insert(0, AlarmRow(camera, alarm, at=time.time()))
            self._refresh()

    @Slot(object)
    def on_alarm_ended(self, ended: AlarmEnded) -> None:
        self._set_state(ended.event.id, "ended", only_if="raised")

    @Slot(object)
    def on_job_queued(self, queued: JobQueued) -> None:
        self._set_state(queued.job.params.get("event_id"), f"approved: job {queued.job.id}")

    @Slot(int)
    def on_dismissed(self, event_id: int) -> None:
        self._set_state(event_id, "dismissed")

    def selected(self) -> AlarmRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows else None

    @Slot()
    def on_show_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            self.show_requested.emit(row.camera, row.alarm)

    def _decide(self, signal) -> None:
        row = self.selected()
        if row is not None and row.state in ("raised", "ended"):
            signal.emit(row.camera, row.alarm.event.id)

    def _set_state(self, event_id: int | None, state: str, only_if: str | None = None) -> None:
        camera = self._cameras.get(self.sender())
        for row in self.rows:
            same = row.alarm.event.id == event_id and row.camera is camera
            if same and (only_if is None or row.state == only_if):
                row.state = state
        self._refresh()

    def _refresh(self) -> None:
        self.table.setRowCount(len(self.rows))
        for number, row in enumerate(self.rows):
            event = row.alarm.event
            cells = (
                time.strftime("%H:%M:%S", time.localtime(row.at)),
                row.camera.name,
                event.summary,
                row.state,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1 and row.alarm.samples:
                    item.setIcon(QIcon(QPixmap.fromImage(load_thumbnail(row.alarm.samples[0]))))
                self.table.setItem(number, column, item)
            self.table.setRowHeight(number, THUMB.height() + 6)
        self.table.resizeColumnToContents(1)
