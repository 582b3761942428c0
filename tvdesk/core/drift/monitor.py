"""The drift monitor: frames in, a calibrated alarm with its reasons out.

`DriftMonitor.update(frame, detections, timestamp)` is called by the frame loop for every
frame and returns a `DriftStatus` snapshot. Features are averaged over 1 s blocks, compared
with the reference profile in robust sigmas and tested by a CUSUM per feature; an alarm is
raised when any feature crosses its calibrated threshold, holds while the stream stays
drifted, and ends (re-arming the test) once it has settled for `settle_seconds`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from types import MappingProxyType

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.alarm import Alarm
from tvdesk.core.drift.baseline import BaselineRecorder
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.drift.explain import summary
from tvdesk.core.drift.features import (
    FEATURES,
    EdgeBackground,
    FrameFeatures,
    detection_features,
)
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.core.drift.sequential import Block, BlockAverager, Cusum, nanmean
from tvdesk.core.drift.status import ALARM, LEARNING, WATCHING, DriftConfig, DriftStatus

logger = logging.getLogger(__name__)

WINDOW_BLOCKS = 4 * 3600  # how far back an alarm's first frame is looked up (4 h of blocks)


class DriftMonitor:
    """Watches one stream against a reference profile, or against a baseline it learns.

    Without a profile the monitor first records `config.baseline_seconds` of video as its
    baseline, and hands the learnt profile to `on_baseline` (on the frame loop's thread: keep
    it short) so that it can be kept. `set_reference` switches to another model's profile
    (after a hot-swap); it may be called from another thread than the frame loop's.
    """

    def __init__(
        self,
        profile: ReferenceProfile | None = None,
        config: DriftConfig | None = None,
        on_baseline: Callable[[ReferenceProfile], None] | None = None,
    ) -> None:
        self.config = config or DriftConfig()
        self.on_baseline = on_baseline
        self.features = FEATURES
        self._extractor = FrameFeatures()
        self._background = EdgeBackground()
        self._first_time: float | None = None
        self._frames = 0
        self._unreadable = 0
        self._pending_end: DriftEvent | None = None
        self._empty = _frozen(np.zeros(len(FEATURES)))
        self._last_status: DriftStatus | None = None
        self._lock = threading.RLock()
        if profile is None:
            self.start_baseline()
        else:
            self.set_reference(profile)

    # -- the reference -----------------------------------------------------------------------

    @property
    def profile(self) -> ReferenceProfile | None:
        return self._profile

    def set_reference(self, profile: ReferenceProfile) -> None:
        """Test against `profile` from the next frame on; an alarm in progress ends."""
        if profile.calibration is None:
            raise ProfileError(
                f"the drift profile '{profile.source}' has no calibrated "
                "thresholds: calibrate it, or record a baseline instead"
            )
        if list(profile.features) != list(FEATURES):
            raise ProfileError(
                "the drift profile was made by another tvdesk version "
                "(different features): recompute it"
            )
        allowance, threshold = profile.calibration.arrays(FEATURES)
        tested = np.any([np.isfinite(m.centre) for m in profile.modes], axis=0)
        threshold = np.where(tested[:, None], threshold, np.inf)
        with self._lock:
            self._end_alarm(self._last_time())
            self._profile = profile
            self._recorder: BaselineRecorder | None = None
            if profile.background is not None:
                self._extractor.background = profile.background
            self._cusum = Cusum(allowance, threshold, self.config.sum_cap, self.config.min_blocks)
            self._start_blocks()
            self._snapshot = (
                self._empty,
                _frozen(threshold.min(axis=1)),
                self._empty,
                MappingProxyType({}),
                "",
            )
            self._state = WATCHING

    def start_baseline(self, seconds: float | None = None) -> None:
        """Learn a new baseline from the next `seconds` of video (the operator's 'this is
        normal'); the monitor tests against it once it is complete."""
        with self._lock:
            self._end_alarm(self._last_time())
            self._profile = None
            self._recorder = BaselineRecorder(seconds or self.config.baseline_seconds)
            self._start_blocks()
            self._state = LEARNING

    def finish_baseline(self) -> ReferenceProfile:
        """End the baseline now (the operator marks its end) and start testing against it."""
        with self._lock:
            if self._recorder is None:
                raise ProfileError("no baseline is being recorded: start one first")
            profile = self._recorder.profile(
                self._extractor.background,
                self.config.false_alarms_per_day,
                self.config.block_seconds,
            )
            self.set_reference(profile)
            return profile

    # -- per frame ---------------------------------------------------------------------------

    def update(
        self, frame: np.ndarray, detections: Detections | None, timestamp: float
    ) -> DriftStatus:
        """Measure one frame and advance the test; never raises on a bad frame."""
        with self._lock:
            try:
                image = self._extractor(frame)
            except ValueError as exc:
                self._unreadable += 1
                if self._unreadable in (1, 10, 100) or self._unreadable % 1000 == 0:
                    logger.warning(
                        "drift monitor: %d frame(s) it cannot read, the last: %s",
                        self._unreadable,
                        exc,
                    )
                image = np.full(len(FEATURES) - len(detection_features(None)), math.nan)
            else:
                self._learn_background(timestamp)
            values = np.concatenate([image, detection_features(detections)])
            return self.observe(values, timestamp)

    def observe(self, values: np.ndarray, timestamp: float) -> DriftStatus:
        """Advance with one frame's feature vector (in `FEATURES` order) already measured."""
        values = np.asarray(values, np.float64)
        if values.shape != (len(FEATURES),):
            raise ValueError(f"a feature vector has {len(FEATURES)} values, got {values.shape}")
        with self._lock:
            return self._observe(values, float(timestamp))

    def _observe(self, values: np.ndarray, timestamp: float) -> DriftStatus:
        index, self._frames = self._frames, self._frames + 1
        raised = None
        if self._recorder is not None:
            self._recorder.add(values, timestamp)
            if self._recorder.complete:
                self._finish_recording()
        block = self._blocks.add(values, timestamp, index) if self._state != LEARNING else None
        if block is not None:
            raised = self._advance(block)
        ended, self._pending_end = self._pending_end, None
        self._last_status = self._status(timestamp, index, raised, ended, _frozen(values))
        return self._last_status

    # -- the test ----------------------------------------------------------------------------

    def _advance(self, block: Block) -> DriftEvent | None:
        z, _ = self._profile.deviations(block.mean)
        self._cusum.update(z)
        self._block_frames.append(block.first_frame)
        self._recent.append(z)
        raised = self._maybe_raise(block) if self._state == WATCHING else self._hold(block)
        drivers = self._drivers() if self._state == ALARM else {}
        words = summary(drivers, self._context()) if drivers else ""
        self._snapshot = (
            _frozen(self._cusum.statistic),
            _frozen(self._cusum.side_threshold),
            _frozen(z),
            MappingProxyType(drivers),
            words,
        )
        return raised

    def _hold(self, block: Block) -> None:
        """One more block of an alarm. It ends once every sum has been back at zero (the
        stream has undone the evidence) for a whole settle window: the same alarm model the
        calibration counts with, so a stream that lingers at its envelope's edge holds one
        alarm instead of raising a new one each time it dips back in."""
        self._alarm.track(self._drivers(), self._max_ratio())
        self._quiet = self._quiet + 1 if self._cusum.quiet else 0
        if self._quiet >= self._settle_blocks:
            self._end_alarm(block.end)

    def _maybe_raise(self, block: Block) -> DriftEvent | None:
        ratio = self._cusum.ratio
        if not np.nanmax(ratio, initial=0.0) >= 1.0:
            return None
        drivers = self._drivers() or {self.features[int(np.nanargmax(ratio))]: 0.0}
        rises = [self._cusum.rise_block(self.features.index(n)) for n in drivers]
        back = self._cusum.blocks - 1 - min(rises)
        first = self._block_frames[-1 - min(back, len(self._block_frames) - 1)]
        self._alarm = Alarm(block.end, first, drivers, self._context(), self._max_ratio())
        self._state = ALARM
        self._quiet = 0
        event = self._alarm.event(None, block.last_frame, self.config.max_event_frames)
        logger.info("drift alarm at %.1f s: %s", block.end, event.summary)
        return event

    def _end_alarm(self, timestamp: float) -> None:
        if getattr(self, "_state", None) != ALARM:
            return
        last = max(self._frames - 1, 0)
        self._pending_end = self._alarm.event(timestamp, last, self.config.max_event_frames)
        logger.info("drift alarm from %.1f s ended at %.1f s", self._alarm.start, timestamp)
        self._cusum.reset()
        self._state = WATCHING

    def _context(self) -> dict[str, float]:
        """Every feature's recent deviation: what the alarm's hint reads besides the drivers."""
        recent = nanmean(np.array(self._recent))
        return {n: float(v) for n, v in zip(self.features, recent, strict=True) if np.isfinite(v)}

    def _drivers(self) -> dict[str, float]:
        """Features beyond their threshold, with their recent deviation, largest first."""
        ratio = self._cusum.ratio
        recent = nanmean(np.array(self._recent))
        beyond = [j for j in np.argsort(-np.nan_to_num(ratio)) if ratio[j] >= 1.0]
        return {self.features[j]: float(recent[j]) for j in beyond if np.isfinite(recent[j])}

    def _max_ratio(self) -> float:
        return float(np.nanmax(self._cusum.ratio, initial=0.0))

    # -- bookkeeping -------------------------------------------------------------------------

    def _start_blocks(self) -> None:
        blocks = self.config.block_seconds
        self._blocks = BlockAverager(len(FEATURES), blocks)
        self._block_frames: deque[int] = deque(maxlen=WINDOW_BLOCKS)
        self._recent: deque[np.ndarray] = deque(maxlen=self.config.recent_blocks)
        self._settle_blocks = max(1, math.ceil(self.config.settle_seconds / blocks))
        self._quiet = 0
        self._snapshot = (self._empty, self._empty, self._empty, MappingProxyType({}), "")

    def _learn_background(self, timestamp: float) -> None:
        if self._extractor.background is not None or not math.isfinite(timestamp):
            return
        if self._first_time is None:
            self._first_time = timestamp
        self._background.add(self._extractor.edges)
        if timestamp - self._first_time >= self.config.background_seconds:
            self._extractor.background = self._background.edges()
            logger.debug(
                "learnt the camera's background edges from %d frames", self._background.frames
            )

    def _finish_recording(self) -> None:
        try:
            profile = self.finish_baseline()
        except ProfileError as exc:
            logger.warning("baseline not usable yet (%s); recording on", exc)
            self._recorder.seconds *= 2
            return
        if self.on_baseline is not None:
            self.on_baseline(profile)

    def _last_time(self) -> float:
        return self._last_status.timestamp if self._last_status else 0.0

    def _status(
        self,
        timestamp: float,
        index: int,
        raised: DriftEvent | None,
        ended: DriftEvent | None,
        values: np.ndarray,
    ) -> DriftStatus:
        if self._state == LEARNING:
            zeros = self._empty
            recorder = self._recorder
            return DriftStatus(
                timestamp,
                index,
                LEARNING,
                FEATURES,
                zeros,
                zeros,
                zeros,
                raised=raised,
                ended=ended,
                learnt_seconds=recorder.elapsed if recorder else 0.0,
                baseline_seconds=recorder.seconds if recorder else 0.0,
                values=values,
            )
        return DriftStatus(
            timestamp,
            index,
            self._state,
            FEATURES,
            *self._snapshot,
            raised=raised,
            ended=ended,
            values=values,
        )


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.array(values, np.float64)
    values.flags.writeable = False
    return values
