"""The drift benchmark on real footage: a baseline from the first half of each day clip,
its second half (which must not alarm), then the night clip (which must)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.drift_methods import KsTest, alarm_intervals, detection, feature_matrix
from bench.drift_runs import KS_LEVEL, METHODS, Intervals
from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift import DriftConfig, DriftMonitor, FrameFeatures
from tvdesk.core.drift.features import EdgeBackground


def real_clips(realdata: Path, config: DriftConfig) -> dict:
    """Baseline from the first half of each day clip; its second half, then the night clip."""
    videos = realdata / "videos"
    night_path = videos / "dashcam_night_tmo.mp4"
    if not night_path.exists():
        return {"available": False, "why": f"real clips not found under {videos}"}
    night, night_fps = _read(night_path)
    out = {"available": True, "clips": {}}
    for path in sorted(videos.glob("*")):
        if path == night_path or path.suffix.lower() not in (".mp4", ".avi"):
            continue
        day, fps = _read(path)
        out["clips"][path.name] = _real_pair(day, fps, night, night_fps, config)
    return out


def _read(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, float(fps)


def _real_pair(
    day: list[np.ndarray],
    fps: float,
    night: list[np.ndarray],
    night_fps: float,
    config: DriftConfig,
) -> dict:
    half = len(day) // 2
    baseline_seconds = (half - 1) / fps
    background_seconds = min(config.background_seconds, baseline_seconds / 3)
    own = DriftConfig(baseline_seconds=baseline_seconds, background_seconds=background_seconds)
    times = np.concatenate(
        [np.arange(len(day)) / fps, len(day) / fps + np.arange(len(night)) / night_fps]
    )
    frames = day + night
    monitor = DriftMonitor(None, own)
    intervals: Intervals = []
    summary = ""
    night_start = len(day) / fps
    for frame, t in zip(frames, times, strict=True):
        status = monitor.update(frame, Detections(), float(t))
        if status.ended is not None and intervals and intervals[-1][1] is None:
            intervals[-1] = (intervals[-1][0], status.ended.end)
        if status.raised is not None:
            intervals.append((status.raised.start, None))
            if status.raised.start >= night_start and not summary:
                summary = status.raised.summary
    ours_second_half = sum(1 for s, _ in intervals if s < night_start)
    delay, _ = detection(intervals, night_start)  # 0 if an earlier alarm still holds
    result = {
        "frames": len(day),
        "fps": fps,
        "baseline_seconds": round(baseline_seconds, 1),
        "second_half_seconds": round((len(day) - half) / fps, 1),
        "ours": {
            "second_half_alarms": ours_second_half,
            "night_delay_s": delay,
            "night_summary": summary,
        },
    }
    result.update(
        _real_ks(frames, times, half, fps, night_start, background_seconds, config.settle_seconds)
    )
    return result


def _real_ks(frames, times, half, fps, night_start, background_seconds, settle_seconds) -> dict:
    """The KS methods on the same clip: reference = the baseline half's frames."""
    learner, extractor = EdgeBackground(), FrameFeatures()
    for frame, t in zip(frames, times, strict=True):
        extractor(frame)
        learner.add(extractor.edges)
        if t >= background_seconds:
            break
    extractor.background = learner.edges()
    features = feature_matrix(np.array([extractor(f) for f in frames]))
    ks = KsTest(features[:half], window=max(round(10 * fps), 2))
    ends = np.arange(half + ks.window, len(frames) + 1, max(round(fps), 1))
    d = ks.statistics(features, ends)
    test_times = times[ends - 1]
    tested = sum(r.size > 0 for r in ks.reference)
    out = {}
    for method, level in ((METHODS[0], KS_LEVEL), (METHODS[1], KS_LEVEL / tested)):
        with np.errstate(invalid="ignore"):
            fire = (d > ks.critical(level)[None, :]).any(axis=1)
        iv = alarm_intervals(fire, test_times, settle_seconds)
        delay, _ = detection(iv, night_start)
        out[method] = {
            "second_half_alarms": sum(1 for s, _ in iv if s < night_start),
            "night_delay_s": delay,
        }
    return out
