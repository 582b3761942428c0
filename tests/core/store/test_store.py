"""The store on real SQLite files: schema and forward migration, WAL, the batched writer that
never blocks its caller, several processes writing at once, and a kill -9 mid-write."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from media import kill_9_after_rows
from sqlite_utils import Database

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.frame_loop import FrameResult, FrameStats, LoopOutcome
from tvdesk.core.session.recorder import SessionRecorder
from tvdesk.core.sources import Frame, SourceInfo
from tvdesk.core.store import (
    MIGRATIONS,
    Camera,
    DetectionSettings,
    Store,
    StoreError,
    StoreWriter,
    database_path,
)
from tvdesk.core.store import schema as schema_module
from tvdesk.core.store.job import JobState
from tvdesk.core.store.model_version import ModelVersion

TABLES = {
    "sessions",
    "frame_stats",
    "detection_samples",
    "drift_events",
    "model_versions",
    "jobs",
    "cameras",
}


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "tvdesk.db"


def test_a_new_database_has_the_latest_schema_in_wal_mode(isolated_home):
    with Store() as store:
        assert store.path == database_path() == isolated_home / "tvdesk.db"
        assert store.schema_version == len(MIGRATIONS)
        assert set(store.db.table_names()) >= TABLES
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_bring_an_old_database_forward_and_keep_its_data(db_path, monkeypatch):
    with Store(db_path) as store:
        session_id = store.sessions.start("clip.mp4", "file", "v1")

    def add_notes(db):
        db["sessions"].add_column("notes", str)

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*MIGRATIONS, add_notes])
    monkeypatch.setattr("tvdesk.core.store.connection.MIGRATIONS", [*MIGRATIONS, add_notes])
    with Store(db_path) as store:
        assert store.schema_version == len(MIGRATIONS) + 1
        assert store.sessions.get(session_id)["notes"] is None
        assert store.sessions.get(session_id)["source"] == "clip.mp4"
    with Store(db_path) as store:  # nothing left to do: opening again changes nothing
        assert store.schema_version == len(MIGRATIONS) + 1


def test_a_database_from_a_newer_tvdesk_is_refused(db_path):
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StoreError, match="newer tvdesk"):
        Store(db_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(db_path):
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        Store(db_path)


def test_model_versions_keep_lineage_and_each_camera_runs_its_own(db_path):
    with Store(db_path) as store:
        base = store.models.add(
            ModelVersion(
                "tvdesk-base",
                "1",
                Path("base.onnx"),
                data_md5="abc",
                params={"epochs": 45},
                metrics={"map50": 0.8},
            )
        )
        tuned = store.models.add(
            ModelVersion("tvdesk-base", "2", Path("night.onnx"), parent_id=base.id, data_md5="def")
        )
        north = store.cameras.add(Camera("north", "a.mp4", "file:/a.mp4", "file", "tvdesk-base"))
        south = store.cameras.add(Camera("south", "b.mp4", "file:/b.mp4", "file", "tvdesk-base"))
        store.cameras.set_model(north.id, base.id)
        store.cameras.set_model(south.id, base.id)
        store.cameras.set_model(north.id, tuned.id)
        assert store.cameras.get(north.id).model_id == tuned.id
        assert store.cameras.get(south.id).model_id == base.id  # the other camera keeps its own
        assert [c.name for c in store.cameras.using(base.id)] == ["south"]
        again = store.models.get(tuned.id)
        assert (again.parent_id, again.data_md5, again.path) == (base.id, "def", Path("night.onnx"))
        assert store.models.get(base.id).params == {"epochs": 45}
        with pytest.raises(StoreError, match="already registered"):
            store.models.add(ModelVersion("tvdesk-base", "2", Path("other.onnx")))
        with pytest.raises(StoreError, match="no camera"):
            store.cameras.set_model(999, base.id)


def test_cameras_are_found_by_name_and_source_renamed_and_forgotten(db_path):
    with Store(db_path) as store:
        camera = store.cameras.add(
            Camera(
                "gate",
                "rtsp://u:***@10.0.0.5/live",
                "stream:rtsp://10.0.0.5/live",
                "stream",
                "tvdesk-traffic",
                detection=DetectionSettings(imgsz=640, classes=("car", "truck")),
            )
        )
        session_id = store.sessions.start(camera.source, "stream", "v1", camera.id)
        assert store.cameras.with_source("stream:rtsp://10.0.0.5/live") == camera
        assert store.cameras.named("gate").detection.classes == ("car", "truck")
        with pytest.raises(StoreError, match="already a camera named"):
            store.cameras.add(Camera("gate", "x", "file:/x", "file", "tvdesk-traffic"))
        renamed = store.cameras.rename(camera.id, "north gate")
        assert store.cameras.named("gate") is None and renamed.name == "north gate"
        store.cameras.forget(camera.id)
        assert store.cameras.all() == []
        assert store.sessions.get(session_id)["camera_id"] is None  # the session is kept


def test_a_schema_2_database_keeps_its_versions_on_the_synthetic_camera(tmp_path):
    """Before cameras one version was active for everything: it becomes the synthetic
    camera's, and every version is kept."""
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    for migration in MIGRATIONS[:2]:
        migration(db)
    db.execute("PRAGMA user_version = 2")
    for version, active in (("1", 0), ("2", 1)):
        db["model_versions"].insert(
            {
                "name": "tvdesk-base",
                "version": version,
                "path": f"{version}.onnx",
                "created": 1.0,
                "active": active,
            }
        )
    db.conn.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert [m.version for m in store.models.all()] == ["1", "2"]
        camera = store.cameras.named("synthetic")
        assert camera.kind == "synthetic" and camera.line == "tvdesk-base"
        assert store.models.get(camera.model_id).version == "2"


def test_jobs_record_state_stage_progress_and_times(db_path):
    with Store(db_path) as store:
        job = store.jobs.create("retrain", {"session": 3})
        assert (job.state, job.progress, job.started) == (JobState.QUEUED, 0.0, None)
        job = store.jobs.update(
            job.id, state=JobState.RUNNING, stage="train", progress=0.25, message="epoch 5 of 20"
        )
        assert job.started is not None and job.stage == "train" and job.progress == 0.25
        job = store.jobs.update(
            job.id, state=JobState.SUCCEEDED, progress=1.7, result={"model_id": 2}
        )
        assert job.progress == 1.0 and job.finished >= job.started and job.state.finished
        assert job.result == {"model_id": 2} and job.params == {"session": 3}
        assert [j.id for j in store.jobs.all(JobState.SUCCEEDED)] == [job.id]


def test_drift_events_are_saved_when_raised_and_updated_when_settled(db_path):
    with Store(db_path) as store:
        session_id = store.sessions.start("synthetic:day-night", "synthetic", "v1")
        raised = DriftEvent(61.5, {"luma_mean": -12.1}, 3.2, (610, 611), summary="night")
        saved = store.drift_events.save(raised, session_id)
        store.drift_events.save(
            DriftEvent(61.5, {"luma_mean": -14.0}, 4.0, (610, 611, 612), end=75.0, summary="night"),
            session_id,
        )
        [stored] = store.drift_events.all(session_id)
    assert stored.id == saved.id
    assert (stored.end, stored.severity, stored.frame_indices) == (75.0, 4.0, (610, 611, 612))
    assert stored.drivers == {"luma_mean": -14.0}


def test_the_writer_batches_and_never_makes_its_caller_wait(db_path):
    with Store(db_path) as store:
        session_id = store.sessions.start("clip.mp4", "file", "v1")
        blocker = sqlite3.connect(db_path)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with StoreWriter(db_path, batch_interval_s=0.1) as writer:
            started = time.perf_counter()
            for second in range(2000):
                writer.insert(
                    "frame_stats", {"session_id": session_id, "second": second, "frames": 1}
                )
            queued_in = time.perf_counter() - started
            time.sleep(0.3)
            assert store.db["frame_stats"].count == 0
            blocker.rollback()
            assert writer.flush(10)
        assert queued_in < 0.2
        assert store.db["frame_stats"].count == 2000
        assert writer.lost == 0 and writer.error is None


def test_an_hour_of_30_fps_video_stays_small(db_path):
    """Detection summaries are sampled once per stream second, stats once per wall second."""
    image = np.zeros((2, 2, 3), np.uint8)
    detections = Detections(
        np.zeros((3, 4), np.float32),
        np.full(3, 0.5, np.float32),
        np.array([0, 0, 1]),
        ("car", "truck"),
    )
    stats = FrameStats(1.0, 1.0, 20.0, 1.0, 23.0, 30.0, 30.0, 0)
    info = SourceInfo("file", "hour.mp4", 30.0, (1280, 720), 108_000, live=False, seekable=True)
    with Store(db_path) as store, StoreWriter(db_path) as writer:
        recorder = SessionRecorder(store, writer, info, "v1")
        for index in range(108_000):
            frame = Frame(image, index, index / 30.0, 0.0, 1.0)
            recorder(FrameResult(frame, detections, stats, "v1", {}))
        recorder.finish(LoopOutcome("ended", 108_000, 0, 3600.0))
        assert writer.flush(30)
        samples = store.sessions.samples(recorder.session_id)
        session = store.sessions.get(recorder.session_id)
    assert len(samples) == 3600 and samples[1]["frame_index"] == 30
    assert samples[0]["counts"] == {"car": 2, "truck": 1}
    assert session["frames"] == 108_000 and session["status"] == "ended"
    assert db_path.stat().st_size < 1_000_000  # the last connection folded the WAL in


def test_a_failing_change_loses_only_itself_and_is_reported(db_path, caplog):
    with StoreWriter(db_path) as writer:
        writer.insert("jobs", {"kind": "a", "state": "queued", "created": 1.0})
        writer.call(lambda store: store.sessions.end(999, "ended", 0, 0))  # no such session
        writer.call(lambda store: store.jobs.create("b"))
        assert writer.flush()
    assert writer.lost == 1 and "no session with id 999" in str(writer.error)
    assert "could not write 1 change(s)" in caplog.text
    with Store(db_path) as store:
        assert sorted(j.kind for j in store.jobs.all()) == ["a", "b"]


class _FailureWatchingWriter(StoreWriter):
    """Records, each time `lost` grows, what `failure()` said at that moment."""

    def __setattr__(self, name, value):
        if name == "lost" and value:
            self.said_when_lost_grew = [*getattr(self, "said_when_lost_grew", []), self.failure()]
        super().__setattr__(name, value)


def test_a_lost_write_is_explained_before_it_is_counted(db_path):
    """The player polls `lost` from another thread and then asks `failure()`: the sentence
    must be there first (a CI run once printed 'session 1 stopped:' with nothing after it)."""
    with _FailureWatchingWriter(db_path) as writer:
        writer.call(lambda store: store.sessions.end(999, "ended", 0, 0))  # no such session
        assert writer.flush()
    assert writer.said_when_lost_grew and all(
        said.startswith("a write to the database failed") for said in writer.said_when_lost_grew
    )


WRITER_SCRIPT = """
import sys
from tvdesk.core.store import Store, StoreWriter
from tvdesk.core.store.job import JobState
path, tag = sys.argv[1], sys.argv[2]
with Store(path) as store, StoreWriter(path, batch_interval_s=0.05) as writer:
    session_id = store.sessions.start(tag, "file", "v1")
    for i in range(100):
        job = store.jobs.create(tag)
        store.jobs.update(job.id, state=JobState.RUNNING, progress=i / 100)
        writer.insert("detection_samples", {"session_id": session_id, "frame_index": i,
                                            "counts": "{}"})
    print(session_id)
"""


def test_several_processes_write_at_once(db_path):
    Store(db_path).close()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(db_path), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("gui", "worker", "cli")
    ]
    with Store(db_path) as store:
        for _ in range(50):
            store.jobs.all()
            store.sessions.all()
    for worker in workers:
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
    with Store(db_path) as store:
        assert store.db["jobs"].count == 300
        assert store.db["detection_samples"].count == 300
        assert {j.state for j in store.jobs.all(limit=1000)} == {JobState.RUNNING}


KILLED_SCRIPT = """
import itertools, sys, time
from tvdesk.core.store import Store, StoreWriter
path = sys.argv[1]
with Store(path) as store, StoreWriter(path, batch_interval_s=0.05) as writer:
    session_id = store.sessions.start("camera", "stream", "v1")
    for second in itertools.count():
        writer.insert("frame_stats", {"session_id": session_id, "second": second, "frames": 1})
        time.sleep(0.002)
"""


def test_kill_9_mid_write_leaves_a_readable_database(db_path):
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(db_path)], stderr=subprocess.PIPE
    )
    committed = kill_9_after_rows(writer, db_path, "frame_stats", 200, timeout=30)
    assert committed >= 200, "the writer did not commit in time"
    with Store(db_path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = store.db["frame_stats"].count
        seconds = [r["second"] for r in store.db["frame_stats"].rows_where(order_by="second")]
        [session] = store.sessions.all()
    assert rows >= committed and seconds == list(range(rows))  # every batch up to the last
    assert session["ended"] is None and session["status"] == "running"
    assert json.dumps(session)  # plain values, readable by anything
