"""The models panel of the camera playing now: every version of its model line with its date,
parent and data version, the one the camera runs marked; the selected version's metrics beside
its parent's on the same data sets; Activate and Roll back, which hot-swap the camera's
model in the live player (through the live session)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tvdesk.core.store import Store
from tvdesk.core.store.model_version import ModelVersion

POLL_MS = 2000
COLUMNS = ("", "Version", "Created", "Parent", "Data version", "mAP50 by data set")
METRIC_COLUMNS = ("Data set", "Parent (old)", "This version (new)", "Change")


def comparison(version: ModelVersion, store: Store) -> tuple[dict, dict]:
    """(old, new) mAP figures by data set: the job round that trained `version` measured both
    models on the same sets; without it, the parent's own figures stand in for old."""
    for job in store.jobs.all(limit=500):
        rounds = job.result.get("rounds") or [job.result]  # a job from before the rounds
        for measured in (r.get("metrics") for r in rounds if r.get("model_id") == version.id):
            if measured:
                return measured.get("active", {}), measured.get("candidate", version.metrics)
    parent = store.models.get(version.parent_id) if version.parent_id else None
    return (parent.metrics if parent else {}), version.metrics


def map50_text(metrics: dict) -> str:
    parts = [
        f"{name} {values['map50']:.2f}"
        for name, values in metrics.items()
        if isinstance(values, dict) and "map50" in values
    ]
    return " · ".join(parts) or "—"


class ModelsPanel(QWidget):
    """Lists the versions of one camera's line in the store at `db_path` (`set_camera`).

    Signals:
        activate_requested(int): make the camera run this model version.
        rollback_requested(): make the camera run its version's parent.
    """

    activate_requested = Signal(int)
    rollback_requested = Signal()

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = Store(db_path)
        self.camera_id: int | None = None
        self.active_id: int | None = None
        self.versions: list[ModelVersion] = []
        self.camera_title = QLabel("No camera is playing")
        self.table = _table(COLUMNS)
        self.table.itemSelectionChanged.connect(self.on_selection_changed)
        self.table.doubleClicked.connect(self.on_activate_clicked)
        self.metrics_title = QLabel("Select a version to compare it with its parent")
        self.metrics = _table(METRIC_COLUMNS)
        self.activate_button = QPushButton("&Activate selected")
        self.rollback_button = QPushButton("&Roll back to parent")
        self.refresh_button = QPushButton("Refresh")
        self.activate_button.clicked.connect(self.on_activate_clicked)
        self.rollback_button.clicked.connect(self.rollback_requested)
        self.refresh_button.clicked.connect(self.refresh)
        self._build()
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    def _build(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.metrics_title, 1)
        for button in (self.refresh_button, self.rollback_button, self.activate_button):
            buttons.addWidget(button)
        lower = QWidget()
        column = QVBoxLayout(lower)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(buttons)
        column.addWidget(self.metrics)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.camera_title)
        layout.addWidget(split)

    def set_camera(self, camera_id: int | None) -> None:
        """Show the line of camera `camera_id` (None: none plays)."""
        self.camera_id = camera_id
        self.versions = []
        self.refresh()

    def _camera_versions(self) -> tuple[list[ModelVersion], int | None]:
        if self.camera_id is None:
            self.camera_title.setText("No camera is playing")
            return [], None
        camera = self.store.cameras.get(self.camera_id)
        self.camera_title.setText(f"Camera {camera.name}: model line {camera.line}")
        return self.store.models.all(camera.line), camera.model_id

    @Slot()
    def refresh(self) -> None:
        versions, active_id = self._camera_versions()
        same = versions == self.versions and active_id == self.active_id
        if same and len(versions) == self.table.rowCount():
            return
        self.active_id = active_id
        selected = self.selected_version()
        new = {v.id for v in versions} - {v.id for v in self.versions}
        self.versions = versions
        self.table.setRowCount(len(versions))
        names = {v.id: f"{v.name} v{v.version}" for v in versions}
        for row, v in enumerate(reversed(versions)):  # newest first
            cells = (
                "● active" if v.id == active_id else "",
                names[v.id],
                time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created)),
                names.get(v.parent_id, "—") if v.parent_id else "— (base)",
                v.data_md5.removesuffix(".dir")[:10] or "—",
                map50_text(v.metrics),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                if v.id == active_id:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        active = next((v for v in versions if v.id == active_id), None)
        self.rollback_button.setEnabled(active is not None and active.parent_id is not None)
        if active is not None and (new or selected is None):
            selected = active  # a new version (a promotion) shows itself, beside its parent
        self.select_version(selected.id if selected else None)
        self.on_selection_changed()  # the rows moved under the selection: no signal came

    def select_version(self, model_id: int | None) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == model_id:
                self.table.selectRow(row)
                return

    def selected_version(self) -> ModelVersion | None:
        items = self.table.selectedItems()
        model_id = items[0].data(Qt.ItemDataRole.UserRole) if items else None
        return next((v for v in self.versions if v.id == model_id), None)

    @Slot()
    def on_selection_changed(self) -> None:
        version = self.selected_version()
        self.activate_button.setEnabled(version is not None and version.id != self.active_id)
        if version is None:
            self.metrics.setRowCount(0)
            return
        old, new = comparison(version, self.store)
        if version.parent_id:
            parent = self.store.models.get(version.parent_id)
            title = f"mAP50 of v{version.version} beside its parent v{parent.version}, same data"
        else:
            title = f"mAP50 of v{version.version} (a base model: no parent to compare with)"
        self.metrics_title.setText(title)
        self._fill_metrics(old, new)

    def _fill_metrics(self, old: dict, new: dict) -> None:
        sets = [s for s in new if isinstance(new[s], dict)] + [
            s for s in old if s not in new and isinstance(old[s], dict)
        ]
        self.metrics.setRowCount(len(sets))
        for row, name in enumerate(sets):
            before = old.get(name, {}).get("map50")
            after = new.get(name, {}).get("map50")
            change = f"{after - before:+.3f}" if before is not None and after is not None else ""
            cells = (name, _figure(before), _figure(after), change)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 3 and change:
                    item.setForeground(
                        Qt.GlobalColor.darkGreen if after >= before else Qt.GlobalColor.red
                    )
                self.metrics.setItem(row, column, item)

    @Slot()
    def on_activate_clicked(self) -> None:
        version = self.selected_version()
        if version is not None and version.id != self.active_id:
            self.activate_requested.emit(version.id)

    def close_store(self) -> None:
        self.timer.stop()
        self.store.close()


def _figure(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "—"


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    for column in range(len(columns) - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table
