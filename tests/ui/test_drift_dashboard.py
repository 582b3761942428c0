"""The drift dashboard on a real drift monitor's statuses for a rendered day -> night stream:
charts redraw on their timer (not per frame), the alarm is marked, the drivers and the top
feature's reference and live values are drawn; history stays bounded."""

from __future__ import annotations

import numpy as np
import pytest
from ui_support import day_night_results, frame_result

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.status import ALARM
from tvdesk.ui.drift_dashboard import DriftDashboardWidget
from tvdesk.ui.drift_history import DriftHistory


@pytest.fixture(scope="module")
def day_night(bundled_model):
    return day_night_results(bundled_model)


@pytest.fixture
def dashboard(qtbot, day_night):
    monitor, _ = day_night
    widget = DriftDashboardWidget(lambda: monitor.profile)
    qtbot.addWidget(widget)
    widget.resize(480, 760)
    widget.show()
    return widget


def test_charts_redraw_on_the_timer_not_per_frame(qtbot, dashboard, day_night):
    _, results = day_night
    for result in results:
        dashboard.add_result(result)
    assert dashboard.redraws == 0  # adding results draws nothing
    qtbot.waitUntil(lambda: dashboard.redraws >= 4, timeout=3000)  # one chart per tick
    qtbot.wait(1000)  # and the distribution again once the newest frame is sampled
    drawn = dashboard.redraws
    qtbot.wait(700)
    assert dashboard.redraws == drawn <= 5  # nothing new since: nothing redrawn
    times, ratios, _, _ = dashboard.history.window()
    assert len(times) == len(results) and ratios.shape == (len(results), 25)
    x, y = dashboard.count_curve.getData()
    assert len(x) == len(results) and y[0] == len(results[0].detections)


def test_the_alarm_its_drivers_and_the_top_feature_are_drawn(qtbot, dashboard, day_night):
    _, results = day_night
    assert any(r.observations["drift"].state == ALARM for r in results)
    for result in results[:-3]:
        dashboard.add_result(result)
    for result in results[-3:]:  # the last frames come slowly: each is sampled (2 Hz)
        qtbot.wait(600)
        dashboard.add_result(result)
    qtbot.waitUntil(lambda: dashboard.redraws >= 4, timeout=3000)
    assert "DRIFT ALARM" in dashboard.state_label.text()
    assert "night" in dashboard.state_label.text()
    assert len(dashboard.history.alarms) == 1 and dashboard.alarm_marks.count == 1
    assert "luma_mean" in dashboard.drivers.names
    assert dashboard.history.top_feature() in dashboard.history.latest.drivers
    qtbot.waitUntil(lambda: len(dashboard.curves[0].getData()[0]) == len(results), timeout=3000)
    _, y = dashboard.curves[0].getData()
    assert np.nanmax(np.abs(y)) >= 1.0  # crossed its threshold
    assert "brightness" in dashboard.curve_key.text()
    reference_x, _ = dashboard.distribution.reference.getData()
    assert len(reference_x) > 0  # the bundled profile has a reference for brightness
    qtbot.waitUntil(lambda: len(dashboard.history.live_values) >= 2, timeout=5000)
    qtbot.waitUntil(lambda: len(dashboard.distribution.live.opts["height"]) > 0, timeout=2000)
    live = np.array(dashboard.history.live_values)
    assert live.max() < 60  # night: far below the day reference's brightness


def test_a_hidden_dashboard_does_not_draw(qtbot, dashboard, day_night):
    dashboard.hide()
    for result in day_night[1][:5]:
        dashboard.add_result(result)
    qtbot.wait(350)
    assert dashboard.redraws == 0


def test_history_is_bounded_and_tracks_alarm_spans(day_night):
    history = DriftHistory(max_points=50)
    _, results = day_night
    for result in results + results:
        history.add(result.observations["drift"], result.detections)
    assert len(history.times) == len(history.ratios) == len(history.counts) == 50
    assert history.alarms and history.alarms[-1].summary
    image = np.zeros((4, 4, 3), np.uint8)
    history.add(None, Detections())  # a source without a monitor
    assert np.isnan(history.ratios[-1]).all() and np.isnan(history.confidences[-1])
    assert frame_result(image, Detections(), None, 0, 0.0).observations["drift"] is None
