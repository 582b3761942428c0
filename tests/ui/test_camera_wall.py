"""The camera wall with real players and sessions: four cameras play on a 2x2 wall; an alarm
of one camera shows in the one alarm list and its Approve queues a job for that camera only; a
new version on one camera leaves the others' models alone; a stream that dies shows in its
tile and comes back without freezing the wall; a camera with a job asks before it goes."""

from __future__ import annotations

import json

import pytest
from media import MjpegCamera, write_synthetic_clip
from PySide6.QtWidgets import QMessageBox
from ui_support import DAY_NIGHT

from tvdesk.core.registry import Candidate, Registry
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store import Store


def _painted(tile) -> bool:
    return tile.video._frame is not None


def _wall_of_four(qtbot, window, folder):
    """The synthetic camera and three more: video files, each a camera of its own."""
    wall = window.wall_view
    for name in ("north", "south", "bridge"):
        clip = write_synthetic_clip(folder / f"{name}.avi", seconds=4)
        assert wall.add_camera(str(clip)) is not None
    wall.show_wall()
    qtbot.waitUntil(lambda: all(_painted(t) for t in wall.wall.tiles), timeout=60000)
    return wall


def test_four_cameras_play_on_a_two_by_two_wall_and_a_tile_opens_in_full(
    qtbot, live_window, tmp_path
):
    window = live_window
    window.open_spec("synthetic:day")
    wall = _wall_of_four(qtbot, window, tmp_path)
    assert wall.showing_wall and len(wall.wall.tiles) == 4
    assert all(t.isVisible() for t in wall.wall.tiles)
    names = [c.player.session.camera.name for c in wall.cameras]
    assert names == ["synthetic", "north", "south", "bridge"]  # four stored cameras
    assert "fps" in wall.wall.tiles[1].caption.text()
    wall.wall.tiles[2].focus_requested.emit(wall.cameras[2])
    assert not wall.showing_wall and window.player is wall.cameras[2].player
    qtbot.waitUntil(lambda: window.frames_shown > 0, timeout=30000)
    assert window.windowTitle() == f"tvdesk — {names[2]}"
    assert wall.add_camera(str(tmp_path / "north.avi")) is None  # the same camera twice: no
    assert "on the wall already" in window.notice.text.text()
    wall.show_wall()
    wall.wall.set_side(3)
    assert wall.wall.side == 3 and window.state.value("wall/side") == 3
    assert len(window.state.value("wall/cameras")) == 3  # remembered for the next start


@pytest.mark.slow
def test_an_alarm_of_one_camera_is_listed_and_approved_for_that_camera_only(
    qtbot, live_window, isolated_home, tmp_path
):
    window = live_window
    window.player.play(SyntheticSource(DAY_NIGHT, fps=3.0, paced=False), every_frame=True)
    wall = window.wall_view
    other = wall.add_camera(str(write_synthetic_clip(tmp_path / "gate.avi", seconds=4)))
    wall.show_wall()
    alarms = wall.alarms
    qtbot.waitUntil(lambda: alarms.table.rowCount() == 1, timeout=300000)
    assert (
        alarms.rows[0].camera is wall.cameras[0] and "night" in alarms.rows[0].alarm.event.summary
    )
    alarms.table.selectRow(0)
    alarms.approve_button.click()
    qtbot.waitUntil(lambda: alarms.rows[0].state.startswith("approved"), timeout=30000)
    with Store(isolated_home / "tvdesk.db") as store:
        [job] = store.jobs.all()
        assert job.params["camera_id"] == wall.cameras[0].player.session.camera.id
        assert job.params["camera_id"] != other.player.session.camera.id


def test_a_new_version_on_one_camera_leaves_the_others_alone(
    qtbot, live_window, isolated_home, bundled_model, tmp_path
):
    window = live_window
    window.open_spec("synthetic:day")
    wall = _wall_of_four(qtbot, window, tmp_path)
    first, second = wall.cameras[0], wall.cameras[1]
    before = second.player.slot.current.version
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    with Store(isolated_home / "tvdesk.db") as store:
        registry = Registry(store, isolated_home)
        camera = first.player.session.camera
        registry.register(
            camera.line,
            Candidate(bundled_model, bundled_model.with_suffix(".pt"), card),
            parent_id=camera.model_id,
            activate_for=camera.id,
        )
    qtbot.waitUntil(lambda: first.player.slot.current.version.endswith("v2"), timeout=60000)
    assert second.player.slot.current.version == before  # the other camera keeps its version
    qtbot.waitUntil(lambda: "v2" in wall.wall.tiles[0].caption.text(), timeout=30000)


def test_a_dead_stream_shows_in_its_tile_and_comes_back(qtbot, live_window):
    window = live_window
    window.open_spec("synthetic:day")
    camera = MjpegCamera(fps=10.0).start()
    try:
        wall = window.wall_view
        added = wall.add_camera(camera.url)
        wall.show_wall()
        tile = wall.tiles[id(added)]
        qtbot.waitUntil(lambda: _painted(tile), timeout=60000)
        camera.cut()
        qtbot.waitUntil(lambda: tile.state == "lost", timeout=30000)
        shown = window.frames_shown
        qtbot.waitUntil(lambda: window.frames_shown > shown, timeout=10000)  # not frozen
        camera.restore()
        qtbot.waitUntil(lambda: tile.state != "lost", timeout=60000)
    finally:
        camera.cut()


def test_removing_a_camera_with_a_job_asks_first(
    qtbot, live_window, isolated_home, monkeypatch, tmp_path
):
    window = live_window
    window.open_spec("synthetic:day")
    wall = window.wall_view
    added = wall.add_camera(str(write_synthetic_clip(tmp_path / "gate.avi", seconds=4)))
    qtbot.waitUntil(lambda: added.player.session.camera is not None, timeout=30000)
    with Store(isolated_home / "tvdesk.db") as store:
        store.jobs.create("retrain", {"camera_id": added.player.session.camera.id})
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert not wall.remove(added) and added in wall.cameras  # No: it stays
    assert wall.remove(added) and added not in wall.cameras  # Yes: it goes
    assert not wall.remove(wall.cameras[0])  # the camera in focus stays
