"""A mode learnt from a short stretch of a condition is widened by the spread of the
condition's own captured stream: its normal bursts no longer alarm, a real change still does."""

from __future__ import annotations

import numpy as np

from tvdesk.core.drift import FEATURES, IMAGE_FEATURES, DriftMonitor, profile_from_features
from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.condition_spread import MIN_BLOCKS, needed_stretch, widened_to_stream

FPS = 10.0
HIGHLIGHTS = FEATURES.index("luma_p95")
BOXES = FEATURES.index(next(n for n in FEATURES if n not in IMAGE_FEATURES))


def _calibration(k: float = 1.0) -> Calibration:
    return Calibration(
        dict.fromkeys(FEATURES, (k, k)), dict.fromkeys(FEATURES, (5.0, 5.0)), 1.0, 1.0, 1.0
    )


def _night(rng, seconds: float, bursts: tuple[float, ...] = ()) -> np.ndarray:
    """Frames of a night: highlights near 64 (spread 3), a dense-headlights burst of 30 s
    lifting them by 9 from each second in `bursts`."""
    n = round(seconds * FPS)
    frames = rng.normal(0.0, 1.0, (n, len(FEATURES)))
    frames[:, HIGHLIGHTS] = rng.normal(64.0, 3.0, n)
    t = np.arange(n) / FPS
    for start in bursts:
        frames[(t >= start) & (t < start + 30.0), HIGHLIGHTS] += 9.0
    return frames


def _alarms(profile, frames: np.ndarray) -> list[str]:
    monitor = DriftMonitor(profile)
    statuses = [monitor.observe(row, i / FPS) for i, row in enumerate(frames)]
    return [s.raised.summary for s in statuses if s.raised is not None]


def test_a_condition_learnt_from_seconds_is_widened_by_its_own_stream_to_stop_alarming():
    rng = np.random.default_rng(7)
    learnt = profile_from_features(_night(rng, 25.0), calibration=_calibration())
    later = _night(rng, 300.0, bursts=(150.0,))
    assert _alarms(learnt, later), "the test's burst must alarm against the short mode"

    captured = _night(rng, 200.0, bursts=(40.0,))  # the capture ring: another burst, earlier
    widened = widened_to_stream(learnt, captured, np.arange(len(captured)) / FPS)
    stretch = widened.modes[0].scale / learnt.modes[0].scale
    assert stretch[HIGHLIGHTS] > 1.5
    assert stretch[BOXES] == 1.0  # detection features: the capture saw the old model's boxes
    assert _alarms(widened, later) == []

    fog = _night(rng, 120.0)  # a change well beyond the condition's spread still alarms
    fog[600:, HIGHLIGHTS] += 40.0
    assert any("highlights" in summary for summary in _alarms(widened, fog))


def test_a_quiet_or_short_stream_leaves_the_profile_as_it_is():
    rng = np.random.default_rng(8)
    # Allowances as a calibration on such streams finds them: 10 frames of N(0, 1) make
    # blocks of sigma 0.32, whose once-in-a-thousand block lies near 1.
    learnt = profile_from_features(_night(rng, 60.0), calibration=_calibration(k=1.6))
    quiet = _night(rng, 120.0)
    same = widened_to_stream(learnt, quiet, np.arange(len(quiet)) / FPS)
    assert np.allclose(same.modes[0].scale, learnt.modes[0].scale)

    short = _night(rng, MIN_BLOCKS - 5, bursts=(0.0,))
    kept = widened_to_stream(learnt, short, np.arange(len(short)) / FPS)
    assert kept is learnt
    uncalibrated = profile_from_features(_night(rng, 60.0))
    assert widened_to_stream(uncalibrated, short, np.arange(len(short)) / FPS) is uncalibrated


def test_the_envelope_is_read_off_the_tail_not_off_the_few_blocks_seen():
    """200 blocks of an exponential tail: the stretch is fitted to its once-in-a-thousand level
    (ln 1000 = 6.9), not to the 0.99 quantile of the blocks seen."""
    z = np.random.default_rng(9).exponential(1.0, 200)
    stretch = needed_stretch(z, allowance=1.0)
    assert np.quantile(z, 0.99) < 6.0 < stretch < 9.0
    assert needed_stretch(z / 10.0, allowance=1.0) == 1.0  # already within: never narrowed
