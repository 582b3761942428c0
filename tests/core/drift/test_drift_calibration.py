"""Calibration: thresholds fitted on streams in video order keep the false-alarm promise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from tvdesk.core.drift.calibration import (
    calibrate,
    cusum_path,
    excursions,
    joint_alarms,
)
from tvdesk.core.drift.sequential import BlockAverager, Cusum

DAY = 86400


def _video_like(rng, days, features=3):
    """Block deviations of a stable stream: fast traffic noise plus slow nuisance (hours)."""
    n = days * DAY
    fast = lfilter([1], [1, -0.9], rng.standard_normal((n, features)) * np.sqrt(1 - 0.81), axis=0)
    slow = lfilter([1], [1, -0.9995], rng.standard_normal((n, features)) * 0.0316, axis=0)
    return [part for part in np.split(0.5 * fast + 0.8 * slow, days)]


def _alarms(streams, calibration, names):
    found, thresholds = [], []
    for j, name in enumerate(names):
        for side, sign in enumerate((-1.0, 1.0)):
            found.append(
                excursions([sign * s[:, j] for s in streams], calibration.allowance[name][side])
            )
            thresholds.append(calibration.threshold[name][side])
    return joint_alarms(found, thresholds, 30)


def test_cusum_identity_matches_the_recursion():
    z = np.random.default_rng(0).normal(size=500) * 2
    z[10] = np.nan
    s, expected = 0.0, []
    for value in z:
        s = s if np.isnan(value) else max(0.0, s + value - 1.0)
        expected.append(s)
    np.testing.assert_allclose(cusum_path(z, 1.0), expected, atol=1e-9)
    cusum = Cusum(np.array([[2.0, 1.0]]), np.array([[np.inf, np.inf]]), cap=np.inf)
    for value in z:
        cusum.update(np.array([value]))
    assert cusum.upper[0] == pytest.approx(expected[-1])
    assert cusum.lower[0] == pytest.approx(cusum_path(-z, 2.0)[-1])


def test_excursions_do_not_span_streams():
    z = np.array([0, 2, 3, -1, -5, 0, 4, np.nan, 1.0])
    found = excursions([z, z[:3]], 1.0)
    runs = zip(found.stream.tolist(), found.start.tolist(), found.peak.tolist(), strict=True)
    assert sorted(runs) == [(0, 1, 3.0), (0, 6, 3.0), (1, 1, 3.0)]
    assert excursions([-z], 1.0).peak.tolist() == [4.0]


@pytest.mark.slow
def test_calibration_holds_on_fresh_stable_streams():
    rng = np.random.default_rng(20261128)
    names = ["a", "b", "c"]
    calibration = calibrate(_video_like(rng, 20), names, false_alarms_per_day=1.0)
    assert calibration.method == "joint" and calibration.hours == pytest.approx(480)
    fresh = _video_like(rng, 20)
    assert _alarms(fresh, calibration, names) / 20 <= 1.0


def test_a_short_stream_shares_the_budget_by_bonferroni():
    rng = np.random.default_rng(4)
    calibration = calibrate([rng.normal(size=(600, 2))], ["a", "b"])
    assert calibration.method == "bonferroni"
    assert all(min(h) >= 3.0 for h in calibration.threshold.values())


def test_features_without_data_are_not_tested():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3000, 2))
    z[:, 1] = np.nan
    calibration = calibrate([z], ["a", "b"])
    assert "b" not in calibration.threshold
    assert (calibration.arrays(["a", "b"])[1][1] == np.inf).all()


def test_bad_targets_and_empty_streams_are_refused():
    with pytest.raises(ValueError, match="positive"):
        calibrate([np.zeros((10, 1))], ["a"], false_alarms_per_day=0)
    with pytest.raises(ValueError, match="at least one block"):
        calibrate([np.zeros((0, 1))], ["a"])


def test_blocks_average_by_stream_time_and_survive_odd_timestamps():
    averager = BlockAverager(2, seconds=1.0)
    closed = [
        averager.add(np.array([i, np.nan if i % 2 else 1.0]), t, i)
        for i, t in enumerate([0.0, 0.5, 0.9, 1.1, float("nan"), 1.5, 0.2, 3.0])
    ]
    blocks = [b for b in closed if b is not None]
    assert [b.first_frame for b in blocks] == [0, 3, 6]
    np.testing.assert_allclose(blocks[0].mean, [1.0, 1.0])  # NaN left out of the mean
    assert averager.flush().first_frame == 7 and averager.flush() is None
