"""Counting in the window, on the real player and store: a line drawn on the video with the
mouse is stored for the playing camera, counted and shown; a zone is drawn, moved and
deleted; Esc cancels; a line of zero length or a zone of two corners is one notice and nothing
is stored. The Counts panel charts stored counts with the model versions and exports a CSV."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from tvdesk.core.store import Camera, Store
from tvdesk.core.tracking import CountRow
from tvdesk.ui.counting_overlay import LINE_COLOUR
from tvdesk.ui.counts_panel import CountsPanel, minute_series
from tvdesk.ui.shape_editor import OFF

LINE = ((60.0, 300.0), (580.0, 300.0))


@pytest.fixture
def playing(qtbot, live_window):
    """The window playing the synthetic camera (640x360), its frames shown."""
    live_window.open_spec("synthetic:day")
    qtbot.waitUntil(lambda: live_window.frames_shown >= 3, timeout=20000)
    return live_window


def at(window, point: tuple[float, float]) -> QPoint:
    """Where frame pixel `point` is on the video widget."""
    return window.video.mapping().point(point).toPoint()


def stored(window) -> list:
    with Store(window.player.session.db_path) as store:
        return store.counters.of_camera(window.player.session.camera.id)


def draw_line(qtbot, window, start, end) -> None:
    video = window.video
    window.session_view.counting.tools["line"].trigger()
    qtbot.mousePress(video, Qt.MouseButton.LeftButton, pos=at(window, start))
    qtbot.mouseMove(video, at(window, end))
    qtbot.mouseRelease(video, Qt.MouseButton.LeftButton, pos=at(window, end))


def click(qtbot, window, point) -> None:
    qtbot.mouseClick(window.video, Qt.MouseButton.LeftButton, pos=at(window, point))


def test_a_line_drawn_with_the_mouse_is_stored_counted_and_shown(qtbot, playing):
    window = playing
    draw_line(qtbot, window, *LINE)
    qtbot.waitUntil(lambda: len(window.video.editor.shapes) == 1, timeout=5000)
    [line] = stored(window)
    assert (line.kind, line.name) == ("line", "line-1")
    assert np.allclose(line.points, LINE, atol=2.0)  # frame pixels, through the widget's scale
    stream = window.player.session.stream
    qtbot.waitUntil(lambda: stream.counting.shapes == (line,), timeout=5000)
    qtbot.waitUntil(lambda: (window.video.counting or None) is not None, timeout=5000)
    qtbot.waitUntil(lambda: window.video.counting.shapes == (line,), timeout=10000)
    shot = window.video.grab().toImage()
    middle = at(window, ((LINE[0][0] + LINE[1][0]) / 2 - 40, LINE[0][1]))
    assert shot.pixelColor(middle).name() == LINE_COLOUR.name()  # the line is on the video
    window.video.editor.key(Qt.Key.Key_Escape)
    assert window.video.editor.mode == OFF
    assert not window.session_view.counting.tools["line"].isChecked()  # the toolbar follows


def test_a_zone_is_drawn_moved_and_deleted_and_esc_cancels(qtbot, playing):
    window, editor = playing, playing.video.editor
    window.session_view.counting.tools["zone"].trigger()
    corners = [(100.0, 200.0), (300.0, 200.0), (300.0, 340.0), (100.0, 340.0)]
    click(qtbot, window, corners[0])
    qtbot.keyClick(window.video, Qt.Key.Key_Escape)  # cancels the zone being drawn
    assert editor.draft == [] and editor.mode == "zone"
    for corner in corners:
        click(qtbot, window, corner)
    qtbot.keyClick(window.video, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(editor.shapes) == 1, timeout=5000)
    [zone] = stored(window)
    assert zone.kind == "zone" and len(zone.points) == 4

    window.session_view.counting.tools["edit"].trigger()
    qtbot.mousePress(window.video, Qt.MouseButton.LeftButton, pos=at(window, corners[2]))
    qtbot.mouseMove(window.video, at(window, (340.0, 350.0)))
    qtbot.mouseRelease(window.video, Qt.MouseButton.LeftButton, pos=at(window, (340.0, 350.0)))
    qtbot.waitUntil(
        lambda: np.allclose(stored(window)[0].points[2], (340, 350), atol=2), timeout=5000
    )
    assert editor.selected == zone.id
    qtbot.keyClick(window.video, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: stored(window) == [] and editor.shapes == [], timeout=5000)


@pytest.mark.parametrize(
    ("kind", "points", "says"),
    [
        ("line", [(200.0, 200.0), (200.0, 200.0)], "has zero length"),
        ("zone", [(100.0, 100.0), (200.0, 100.0)], "a zone needs 3 or more corners"),
    ],
)
def test_a_line_of_zero_length_or_a_zone_of_two_corners_is_one_notice(
    qtbot, playing, kind, points, says
):
    window = playing
    window.session_view.counting.tools[kind].trigger()
    for point in points:  # a line: click its start, then its end (on the same spot)
        click(qtbot, window, point)
    if kind == "zone":
        qtbot.keyClick(window.video, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.notice.isVisible() and window.notice.level == "error", timeout=5000
    )
    assert says in window.notice.text.text() and "was not saved" in window.notice.text.text()
    assert stored(window) == []


def rows_of_two_versions(now: float) -> list[CountRow]:
    minute = (now // 60 - 30) * 60  # half an hour ago, then the next minutes
    return [
        CountRow("line-1", "car", "in", minute, "tvdesk-base v1", 4),
        CountRow("line-1", "car", "out", minute, "tvdesk-base v1", 2),
        CountRow("line-1", "truck", "in", minute + 60, "tvdesk-base v1", 1),
        CountRow("line-1", "car", "in", minute + 180, "tvdesk-base v2", 3),
        CountRow("zone-1", "car", "enter", minute + 180, "tvdesk-base v2", 5),
    ]


@pytest.fixture
def panel(qtbot, isolated_home):
    with Store(isolated_home / "tvdesk.db") as store:
        gate = store.cameras.add(Camera("gate", "g.mp4", "file:/g.mp4", "file", "traffic"))
        store.counts.add(gate.id, rows_of_two_versions(time.time()))
    widget = CountsPanel(isolated_home / "tvdesk.db")
    qtbot.addWidget(widget)
    widget.set_camera(gate.id, gate.name)
    widget.resize(900, 300)
    widget.show()
    yield widget
    widget.close_store()


def test_the_counts_panel_charts_stored_counts_by_class_direction_and_model(panel):
    assert panel.title.text() == "Camera gate, last 3 h: 10 crossings, 5 zone entries"
    assert set(panel.curves) == {
        ("car", "in"),
        ("car", "out"),
        ("truck", "in"),
        ("car", "enter"),
    }
    x, y = panel.curves[("car", "in")].getData()
    assert np.diff(x).tolist() == [60.0, 60.0, 60.0]  # a minute apart, the gap included
    assert y[0] == 4 and y[1] == 0 and np.isnan(y[2]) and y[3] == 3  # nothing counted: a gap
    assert [m.label.format for m in panel.markers] == ["tvdesk-base v1", "tvdesk-base v2"]
    panel.counter.setCurrentText("zone-1")
    assert set(panel.curves) == {("car", "enter")}
    assert minute_series([], None).counts == {}


def test_the_counts_panel_exports_a_csv_and_says_when_it_cannot(
    qtbot, panel, tmp_path, monkeypatch
):
    target = tmp_path / "gate.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(panel.info):
        panel.export_button.click()
    lines = target.read_text().splitlines()
    assert (
        lines[0] == "camera,minute,minute_epoch,counter,class,direction,count,dwell_s,model_version"
    )
    assert len(lines) == 6 and lines[-1].startswith("gate,") and "tvdesk-base v2" in lines[-1]
    blocked = tmp_path / "gate.csv" / "counts.csv"  # a folder that is a file: not writable
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(blocked), ""))
    with qtbot.waitSignal(panel.error) as said:
        panel.export_button.click()
    assert (
        "cannot be written" in said.args[0] and "Choose a folder you can write to" in said.args[0]
    )
    assert not blocked.exists()
