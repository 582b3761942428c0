"""Model versions and jobs in the store: the records the retraining pipeline and the UI share."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tvdesk.core.store.connection import StoreError, immediate
from tvdesk.core.store.job import Job, JobState
from tvdesk.core.store.model_version import ModelVersion


class ModelVersions:
    """The `model_versions` table: every version of every model line. Which version a camera
    runs is the camera's (`Cameras.set_model`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, model: ModelVersion, first_of_line: bool = False) -> ModelVersion:
        """Store a new version; returns it with its id. With `first_of_line`, only when its
        line has no version yet: otherwise the line's first version is returned instead (two
        processes starting a line at the same moment get the same one)."""
        created = model.created or time.time()
        row = {
            "name": model.name,
            "version": model.version,
            "path": str(model.path),
            "parent_id": model.parent_id,
            "data_md5": model.data_md5,
            "params": json.dumps(model.params),
            "metrics": json.dumps(model.metrics),
            "created": created,
            "active": 0,
        }
        with immediate(self.db):
            if first_of_line and (line := self.all(model.name)):
                return line[0]
            if self.db["model_versions"].count_where(
                "name = ? AND version = ?", [model.name, model.version]
            ):
                raise StoreError(
                    f"model {model.name} version {model.version} is already "
                    "registered; give the new one another version"
                )
            new_id = self.db["model_versions"].insert(row).last_pk
        return replace(model, id=new_id, created=created)

    def get(self, model_id: int) -> ModelVersion:
        rows = list(self.db["model_versions"].rows_where("id = ?", [model_id]))
        if not rows:
            raise StoreError(f"no model version with id {model_id}")
        return _model(rows[0])

    def all(self, name: str | None = None) -> list[ModelVersion]:
        where, args = ("name = ?", [name]) if name else (None, None)
        rows = self.db["model_versions"].rows_where(where, args, order_by="created, id")
        return [_model(r) for r in rows]


class Jobs:
    """The `jobs` table: state, stage and progress of background jobs, for every process."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, kind: str, params: dict[str, Any] | None = None) -> Job:
        now = time.time()
        with immediate(self.db):
            job_id = (
                self.db["jobs"]
                .insert(
                    {
                        "kind": kind,
                        "state": JobState.QUEUED.value,
                        "params": json.dumps(params or {}),
                        "created": now,
                        "updated": now,
                    }
                )
                .last_pk
            )
        return self.get(job_id)

    def update(
        self,
        job_id: int,
        *,
        state: JobState | None = None,
        stage: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: dict[str, Any] | None = None,
        merged: dict[str, Any] | None = None,
    ) -> Job:
        """Change what is given; starting and finishing times are stamped from `state`.
        `merged` values go into the stored result in the same transaction, so that no other
        process's write to it is lost (a None value removes its key)."""
        now = time.time()
        values: dict[str, Any] = {"updated": now}
        if state is not None:
            values["state"] = JobState(state).value
            if state == JobState.RUNNING:
                values["started"] = now
            if JobState(state).finished:
                values["finished"] = now
        if stage is not None:
            values["stage"] = stage
        if progress is not None:
            values["progress"] = min(1.0, max(0.0, float(progress)))
        if message is not None:
            values["message"] = message
        if result is not None:
            values["result"] = json.dumps(result)
        with immediate(self.db):
            stored = self.get(job_id)
            if merged is not None:
                combined = {**(result if result is not None else stored.result), **merged}
                values["result"] = json.dumps({k: v for k, v in combined.items() if v is not None})
            self.db["jobs"].update(job_id, values)
        return self.get(job_id)

    def get(self, job_id: int) -> Job:
        rows = list(self.db["jobs"].rows_where("id = ?", [job_id]))
        if not rows:
            raise StoreError(f"no job with id {job_id}")
        return _job(rows[0])

    def all(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        where, args = ("state = ?", [JobState(state).value]) if state else (None, None)
        rows = self.db["jobs"].rows_where(where, args, order_by="id DESC", limit=limit)
        return [_job(r) for r in rows]


def _model(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=row["version"],
        path=Path(row["path"]),
        data_md5=row["data_md5"],
        params=json.loads(row["params"]),
        metrics=json.loads(row["metrics"]),
        parent_id=row["parent_id"],
        created=row["created"],
        id=row["id"],
    )


def _job(row: dict[str, Any]) -> Job:
    return Job(
        kind=row["kind"],
        state=JobState(row["state"]),
        stage=row["stage"],
        progress=row["progress"],
        message=row["message"],
        params=json.loads(row["params"]),
        result=json.loads(row["result"]),
        created=row["created"],
        started=row["started"],
        updated=row["updated"],
        finished=row["finished"],
        id=row["id"],
    )
