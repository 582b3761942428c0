"""The drift methods the benchmark compares, each fed the same frame features in video order.

- ours: `DriftMonitor` (1 s blocks, robust deviations, calibrated CUSUM) via `observe`;
- KS: the seed's two-sample Kolmogorov-Smirnov test of each feature, reference sample
  against the last `window` seconds of frames, run once a second; it alarms when any
  feature's p-value is below its level (0.05, 0.05/F with Bonferroni), or, matched to the
  same realised false alarms as ours on the stable stream, when the largest D relative to
  its 0.05 critical value passes the level that allows that many alarms.

All methods share the alarm semantics: raised when the test fires, held while it fires,
ended after `settle_seconds` without firing.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import kstwo

from tvdesk.core.drift import FEATURES, DriftConfig, DriftMonitor, ReferenceProfile


def run_ours(
    profile: ReferenceProfile | None, features: np.ndarray, times: np.ndarray, config: DriftConfig
) -> tuple[list[tuple[float, float | None]], float]:
    """Our monitor's alarms (raised, ended) on (frames, FEATURES), and µs per frame."""
    monitor = DriftMonitor(profile, config)
    intervals: list[tuple[float, float | None]] = []
    start = time.perf_counter()
    for row, t in zip(features, times, strict=True):
        status = monitor.observe(row, float(t))
        if status.ended is not None and intervals and intervals[-1][1] is None:
            intervals[-1] = (intervals[-1][0], status.ended.end)
        if status.raised is not None:
            intervals.append((status.raised.start, None))
    micros = (time.perf_counter() - start) / max(len(features), 1) * 1e6
    return intervals, micros


class KsTest:
    """Vectorised two-sample KS statistics of sliding windows against a reference sample.

    The statistic is exactly scipy's `ks_2samp` D (ties included); the p-value is scipy's
    asymptotic one, `kstwo.sf(D, round(n m / (n + m)))`.
    """

    def __init__(self, reference: np.ndarray, window: int) -> None:
        self.reference = [np.sort(c[np.isfinite(c)]) for c in np.asarray(reference).T]
        self.window = window

    def statistics(self, features: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """D per (test, feature) for the windows of frames ending (exclusive) at `ends`."""
        out = np.full((len(ends), features.shape[1]), np.nan)
        for j, ref in enumerate(self.reference):
            if ref.size == 0 or j >= features.shape[1]:
                continue
            windows = sliding_window_view(features[:, j], self.window)[ends - self.window]
            out[:, j] = _two_sample_d(ref, np.sort(windows, axis=1))
        return out

    def critical(self, level: float) -> np.ndarray:
        """Per feature, the D above which scipy's asymptotic p-value is below `level`
        (p falls as D grows, so this is the same test without a p-value per window)."""
        sizes = np.array([r.size for r in self.reference])
        en = np.round(sizes * self.window / np.maximum(sizes + self.window, 1))
        return np.array(
            [
                kstwo.isf(level, n) if size else np.inf
                for n, size in zip(np.maximum(en, 1), sizes, strict=True)
            ]
        )

    def pvalues(self, d: np.ndarray) -> np.ndarray:
        sizes = np.array([r.size for r in self.reference])
        en = np.round(sizes * self.window / np.maximum(sizes + self.window, 1))
        with np.errstate(invalid="ignore"):
            return kstwo.sf(d, np.maximum(en, 1)[None, :])


def _two_sample_d(ref: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """sup |F_ref - F_row| for each sorted row; NaN rows (missing frames) give NaN."""
    m = rows.shape[1]
    index = np.broadcast_to(np.arange(m), rows.shape)
    new = np.ones(rows.shape, bool)
    new[:, 1:] = rows[:, 1:] != rows[:, :-1]
    first = np.maximum.accumulate(np.where(new, index, 0), axis=1)  # window values < x
    last = np.ones(rows.shape, bool)
    last[:, :-1] = rows[:, 1:] != rows[:, :-1]
    upto = np.minimum.accumulate(np.where(last, index, m - 1)[:, ::-1], axis=1)[:, ::-1] + 1
    at = np.searchsorted(ref, rows, side="right") / ref.size
    below = np.searchsorted(ref, rows, side="left") / ref.size
    d = np.maximum(np.abs(at - upto / m), np.abs(below - first / m)).max(axis=1)
    return np.where(np.isfinite(rows).all(axis=1), d, np.nan)


def test_ends(frames: int, fps: float, window: int) -> np.ndarray:
    """Frame indices (exclusive ends) of the once-a-second tests with a full window."""
    step = max(round(fps), 1)
    return np.arange(window, frames + 1, step)


def alarm_intervals(
    fire: np.ndarray, times: np.ndarray, settle_seconds: float
) -> list[tuple[float, float | None]]:
    """(raised, ended) of a test that fires at `times`: an alarm holds while the test fires
    and ends after `settle_seconds` without firing (None: still holding at the end)."""
    intervals: list[tuple[float, float | None]] = []
    start, quiet_since = None, None
    for f, t in zip(fire, times, strict=True):
        if f:
            start = float(t) if start is None else start
            quiet_since = None
        elif start is not None:
            quiet_since = float(t) if quiet_since is None else quiet_since
            if t - quiet_since >= settle_seconds:
                intervals.append((start, float(t)))
                start = quiet_since = None
    if start is not None:
        intervals.append((start, None))
    return intervals


def detection(
    intervals: list[tuple[float, float | None]], onset: float
) -> tuple[float | None, bool]:
    """Delay (s) from `onset` to the alarm (0 if one was already holding; None if missed),
    and whether any alarm was raised before the onset."""
    before = any(start < onset for start, _ in intervals)
    for start, end in intervals:
        if start < onset and (end is None or end >= onset):
            return 0.0, before
        if start >= onset:
            return start - onset, before
    return None, before


def feature_matrix(image: np.ndarray) -> np.ndarray:
    """Image features (frames, IMAGE_FEATURES) padded with NaN model features to FEATURES."""
    pad = np.full((len(image), len(FEATURES) - image.shape[1]), np.nan)
    return np.hstack([image, pad])
