"""Counting in the live session, with the real detector on rendered traffic: a car that jitters
on a counting line counts once, a car unseen for a few frames keeps its track id, a line
drawn while the camera plays counts from the next frame, and a kill -9 loses at most the
minute in progress (a real subprocess writing through the batched writer)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import kill_9_after_rows

from tvdesk.config import Settings
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.counting import COUNTS, CameraCounting
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import FileSource
from tvdesk.core.store import CountingShape, Store
from tvdesk.core.synth.conditions import preset
from tvdesk.core.synth.geometry import RoadCamera
from tvdesk.core.synth.render import SceneRenderer
from tvdesk.core.synth.vehicles import Vehicle

FPS = 10.0
LINE = ((300.0, 300.0), (500.0, 300.0))  # across lane 2; left to right: moving down is "in"
# The car's near end (m from the camera), frame by frame: it comes closer, is hidden for three
# frames, then its box's bottom edge (~300 px at 20.5 m) jitters 6-10 px either side of the
# line seven times before it drives on. None: the road without it.
APPROACH = [30.0, 29.0, 28.0, 27.0, None, None, None, 24.0, 23.0, 22.2]
JITTER = [21.2, 20.0, 21.4, 19.9, 21.6, 20.1, 21.3, 19.8, 21.5]
LEAVE = [19.0, 18.0, 17.0, 16.0, 15.0]


@pytest.fixture(scope="module")
def jitter_clip(tmp_path_factory) -> Path:
    """A car rendered at each distance of APPROACH + JITTER + LEAVE, as an MJPG file."""
    renderer = SceneRenderer(RoadCamera().resized(640, 360))
    lane = 2
    car = Vehicle(
        "car", lane, renderer.camera.lane_centre_x(lane), 30.0, 4.4, 1.8, 1.5, 15.0,
        (40, 40, 170), False,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("clips") / "jitter.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 360))
    rng = np.random.default_rng(0)
    for z in APPROACH + JITTER + LEAVE:
        vehicles = [] if z is None else [replace(car, z=z)]
        writer.write(renderer.render(vehicles, preset("day"), rng).image)
    writer.release()
    return path


def test_a_car_jittering_on_a_line_counts_once_and_keeps_its_id_through_a_gap(
    jitter_clip, bundled_model, isolated_home
):
    source = FileSource(jitter_clip)
    settings = Settings(data_dir=isolated_home, inference_threads=1)
    session = start_session(settings, source.info, model=bundled_model)
    results: list = []
    try:
        loop = session.play(source, consumers=[results.append], every_frame=True)
        line = session.counting_shapes.add("line", LINE)  # drawn as it starts: counted at once
        loop.start()
        assert loop.wait(60).reason == "ended"
    finally:
        session.close()
    snapshots = [r.observations[COUNTS] for r in results]
    events = [e for s in snapshots for e in s.frame.events]
    assert [(e.counter_id, e.class_name, e.direction) for e in events] == [("line-1", "car", "in")]
    assert snapshots[-1].frame.totals == {("line-1", "car", "in"): 1}
    ids = [s.tracks.ids.tolist() for s in snapshots]
    assert ids[4:7] == [[], [], []]  # the three frames without the car
    seen = {i for frame_ids in ids for i in frame_ids}
    assert len(seen) == 1 and ids[3] == ids[7] == list(seen)  # the same id before and after
    assert len(snapshots[-1].trails[ids[-1][0]]) > 5
    with Store(session.db_path) as store:
        [row] = store.counts.rows(line.camera_id)
    assert (row.counter_id, row.class_name, row.direction, row.count) == ("line-1", "car", "in", 1)
    assert row.model_version == results[-1].model_version


def box_down(y: float) -> Detections:
    """One car whose box bottom is at `y`, x 100-140."""
    box = np.array([[100.0, y - 30.0, 140.0, y]], np.float32)
    return Detections(box, np.array([0.9], np.float32), np.array([0]), ("car",))


def test_a_line_added_while_counting_keeps_the_others_state_and_totals():
    rows: list = []
    counting = CameraCounting(
        [CountingShape(1, "line", "a", ((0, 100), (300, 100)))], rows.extend, lambda: "v1"
    )
    snapshots = [counting.update(None, box_down(60 + 10 * i), i / FPS) for i in range(11)]
    assert snapshots[-1].frame.totals == {("a", "car", "in"): 1}  # crossed y 100 at frame 5
    track = snapshots[-1].tracks.ids.tolist()
    counting.replace_shapes(
        [*counting.shapes, CountingShape(1, "line", "b", ((0, 170), (300, 170)))]
    )
    later = [counting.update(None, box_down(60 + 10 * i), i / FPS) for i in range(11, 18)]
    assert later[-1].frame.totals == {("a", "car", "in"): 1, ("b", "car", "in"): 1}
    assert later[-1].tracks.ids.tolist() == track and [s.name for s in later[-1].shapes] == [
        "a",
        "b",
    ]
    counting.finish()
    assert sum(r.count for r in rows) == 2


KILLED = """
import sys, time
import numpy as np
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.counting import CameraCounting, store_rows
from tvdesk.core.store import Camera, Store, StoreWriter
path = sys.argv[1]
with Store(path) as store:
    camera = store.cameras.add(Camera("gate", "g", "file:/g", "file", "t"))
    line = store.counters.add(camera.id, "line", ((0, 100), (300, 100)))
with StoreWriter(path, batch_interval_s=0.05) as writer:
    counting = CameraCounting(
        [line], store_rows(writer, camera.id), lambda: "v1", period_s=0.5, clock=lambda t: t
    )
    for frame in range(100000):  # a car crosses every 10 frames (each 0.5 s "minute")
        t, step = frame * 0.05, frame % 10
        box = np.array([[100, 30 + 14 * step, 140, 60 + 14 * step]], np.float32)
        dets = Detections(box, np.array([0.9], np.float32), np.array([0]), ("car",))
        counting.update(None, dets, t)
        print(t, flush=True)
        time.sleep(0.01)
"""


def test_a_kill_9_loses_at_most_the_minute_in_progress(tmp_path):
    """A 'minute' of 0.5 s here: every finished one is in the store, each with its one car,
    except at most the last one, when the kill comes within the writer's batch interval
    (0.05 s here, 0.5 s in the app) of its end, and the counts still waiting for their
    class (`class_settle_s`, 0.5 s: here each car is recorded in the 'minute' after the one
    it crossed in, so the first 'minute' holds none)."""
    db_path = tmp_path / "tvdesk.db"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed = kill_9_after_rows(process, db_path, "counts", 6, timeout=60)
    assert committed >= 6, process.stderr.read()
    last_t = float(process.stdout.read().split()[-1])
    with Store(db_path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = store.counts.rows(1)
    minutes = [r.minute for r in rows]
    assert minutes == [0.5 * (i + 1) for i in range(len(rows))]  # none missing in between
    assert {(r.counter_id, r.direction, r.count) for r in rows} == {("line-1", "in", 1)}
    finished = int(last_t // 0.5)  # minutes that had ended when it was killed
    assert finished - 2 <= len(rows) <= finished - 1
