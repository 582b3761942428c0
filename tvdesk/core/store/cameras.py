"""The `cameras` table: cameras by id, name and source, and the changes the app makes to one."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from sqlite_utils import Database

from tvdesk.core.store.camera import Camera, DetectionSettings
from tvdesk.core.store.connection import StoreError, immediate


class Cameras:
    """Cameras in the store; names and source keys are unique."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, camera: Camera) -> Camera:
        """Store a new camera; raises StoreError if its name or source is taken."""
        created = camera.created or time.time()
        with immediate(self.db):
            self._check_free(camera.name, camera.source_key)
            new_id = self.db["cameras"].insert(_row(camera) | {"created": created}).last_pk
        return replace(camera, id=new_id, created=created)

    def get(self, camera_id: int) -> Camera:
        rows = list(self.db["cameras"].rows_where("id = ?", [camera_id]))
        if not rows:
            raise StoreError(f"no camera with id {camera_id}; `tvdesk cameras list` shows them")
        return _camera(rows[0])

    def named(self, name: str) -> Camera | None:
        rows = list(self.db["cameras"].rows_where("name = ?", [name]))
        return _camera(rows[0]) if rows else None

    def with_source(self, source_key: str) -> Camera | None:
        rows = list(self.db["cameras"].rows_where("source_key = ?", [source_key]))
        return _camera(rows[0]) if rows else None

    def all(self) -> list[Camera]:
        return [_camera(r) for r in self.db["cameras"].rows_where(order_by="id")]

    def using(self, model_id: int) -> list[Camera]:
        """The cameras whose active version is `model_id`."""
        return [_camera(r) for r in self.db["cameras"].rows_where("model_id = ?", [model_id])]

    def rename(self, camera_id: int, name: str) -> Camera:
        name = name.strip()
        if not name:
            raise StoreError("a camera's name cannot be empty")
        with immediate(self.db):
            camera = self.get(camera_id)
            if name != camera.name:
                self._check_free(name, None)
            self.db["cameras"].update(camera_id, {"name": name, "updated": time.time()})
        return self.get(camera_id)

    def set_model(self, camera_id: int, model_id: int) -> Camera:
        return self._update(camera_id, model_id=model_id)

    def set_reference(self, camera_id: int, reference: str) -> Camera:
        return self._update(camera_id, reference=reference)

    def set_detection(self, camera_id: int, detection: DetectionSettings) -> Camera:
        return self._update(camera_id, detection=json.dumps(detection.as_dict()))

    def forget(self, camera_id: int) -> Camera:
        """Delete the camera's row, its counting lines and zones and their counts; its sessions
        and events stay, no longer linked to it."""
        with immediate(self.db):
            camera = self.get(camera_id)
            self.db.execute("UPDATE sessions SET camera_id = NULL WHERE camera_id = ?", [camera_id])
            self.db.execute("DELETE FROM counts WHERE camera_id = ?", [camera_id])
            self.db.execute("DELETE FROM counters WHERE camera_id = ?", [camera_id])
            self.db["cameras"].delete(camera_id)
        return camera

    def _update(self, camera_id: int, **values: Any) -> Camera:
        with immediate(self.db):
            self.get(camera_id)
            self.db["cameras"].update(camera_id, {**values, "updated": time.time()})
        return self.get(camera_id)

    def _check_free(self, name: str, source_key: str | None) -> None:
        if self.db["cameras"].count_where("name = ?", [name]):
            raise StoreError(f"there is already a camera named {name!r}; choose another name")
        if source_key is not None and self.db["cameras"].count_where(
            "source_key = ?", [source_key]
        ):
            raise StoreError(f"a camera for {source_key} exists already; open it by its name")


def _row(camera: Camera) -> dict[str, Any]:
    return {
        "name": camera.name,
        "source": camera.source,
        "source_key": camera.source_key,
        "kind": camera.kind,
        "line": camera.line,
        "model_id": camera.model_id,
        "reference": camera.reference,
        "detection": json.dumps(camera.detection.as_dict()),
        "updated": time.time(),
    }


def _camera(row: dict[str, Any]) -> Camera:
    return Camera(
        name=row["name"],
        source=row["source"],
        source_key=row["source_key"],
        kind=row["kind"],
        line=row["line"],
        model_id=row["model_id"],
        reference=row["reference"],
        detection=DetectionSettings.from_dict(json.loads(row["detection"])),
        created=row["created"],
        id=row["id"],
    )
