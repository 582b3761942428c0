"""Reference profiles: what normal looks like, as a robust centre and scale per feature.

A model's profile is measured on its training images and travels in its card (JSON); a
live baseline is measured on a stretch of normal video from the camera itself. Training
data that mixes distinct conditions (day and night after a retraining) gives one mode per
condition, and a live block is compared with the mode it is nearest to, so night is no
longer drift for a model that was trained on night.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tvdesk.core import atomic
from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.features import (
    FEATURES,
    FEATURES_VERSION,
    IMAGE_FEATURES,
    MIN_SCALE,
    SMALL_SIZE,
)

logger = logging.getLogger(__name__)

PROFILE_VERSION = 1
MAD_TO_SIGMA = 1.4826
MAX_MODES = 4
SPLIT_SIGMAS = 8.0  # two groups are separate modes when one feature differs this much
MIN_MODE_SHARE = 0.1  # ... and each holds at least this share of the frames
MIN_MODE_FRAMES = 20
Z_CAP = 50.0  # one block can move a CUSUM by at most this many sigmas


class ProfileError(ValueError):
    """A profile cannot be built or read; the message says what to do."""


@dataclass(frozen=True)
class ProfileMode:
    """One condition of the reference: centre and scale per feature (NaN: not measured)."""

    centre: np.ndarray
    scale: np.ndarray
    frames: int


@dataclass(frozen=True)
class ReferenceProfile:
    """The features' reference, its calibrated thresholds, and where it came from.

    `background` (bool 90x160) holds the static edges of the camera a baseline was recorded
    on; model profiles have none, since their training images are not this camera.
    """

    features: tuple[str, ...]
    modes: tuple[ProfileMode, ...]
    calibration: Calibration | None = None
    background: np.ndarray | None = None
    source: str = ""

    @property
    def frames(self) -> int:
        return sum(m.frames for m in self.modes)

    def with_calibration(self, calibration: Calibration | None) -> ReferenceProfile:
        return replace(self, calibration=calibration)

    def widened_to(self, prior: ReferenceProfile) -> ReferenceProfile:
        """Each mode's scale at least the widest of `prior`'s (whose thresholds it shares).

        A mode learnt from a short capture (seconds to minutes of one camera) understates how
        much a condition varies over hours (traffic, weather); the calibrated thresholds
        assume the spread of a long reference, so the new modes borrow it as a floor.
        """
        with warnings.catch_warnings():  # a feature no mode measured stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            widest = np.nanmax([m.scale for m in prior.modes], axis=0)
        modes = tuple(replace(m, scale=np.fmax(m.scale, widest)) for m in self.modes)
        return replace(self, modes=modes)

    def deviations(self, values: np.ndarray) -> tuple[np.ndarray, int]:
        """Robust deviations z of a feature vector from its nearest mode, and that mode."""
        z, mode = self.deviations_of_rows(np.asarray(values, np.float64)[None, :])
        return z[0], int(mode[0])

    def deviations_of_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`deviations` for many feature vectors (rows, features) at once."""
        image = np.array([name in IMAGE_FEATURES for name in self.features])
        with np.errstate(invalid="ignore"):
            z = np.stack([np.clip((rows - m.centre) / m.scale, -Z_CAP, Z_CAP) for m in self.modes])
        cost = np.nansum(np.minimum(z[:, :, image] ** 2, 100.0), axis=2)
        nearest = np.argmin(cost, axis=0)
        return z[nearest, np.arange(len(rows))], nearest

    def to_dict(self) -> dict:
        return {
            "version": PROFILE_VERSION,
            "features_version": FEATURES_VERSION,
            "features": list(self.features),
            "modes": [
                {"frames": m.frames, "centre": _floats(m.centre), "scale": _floats(m.scale)}
                for m in self.modes
            ],
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "background": _pack(self.background),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceProfile:
        try:
            if data["version"] != PROFILE_VERSION:
                raise ProfileError(
                    f"drift profile version {data['version']} is not supported "
                    f"(this tvdesk reads version {PROFILE_VERSION})"
                )
            if data.get("features_version") != FEATURES_VERSION:
                raise ProfileError(
                    "the drift profile was measured with other feature definitions "
                    f"(version {data.get('features_version')}, now {FEATURES_VERSION}): "
                    "recompute it from the model's training images"
                )
            modes = tuple(
                ProfileMode(_array(m["centre"]), _array(m["scale"]), int(m["frames"]))
                for m in data["modes"]
            )
            calibration = data.get("calibration")
            return cls(
                tuple(data["features"]),
                modes,
                Calibration.from_dict(calibration) if calibration else None,
                _unpack(data.get("background")),
                str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(
                f"not a drift profile ({exc!r}): recompute it from the model's training images"
            ) from exc

    def save(self, path: Path) -> None:
        atomic.write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ProfileError(f"cannot read the drift profile {path}: {exc}") from exc


def robust_mode(values: np.ndarray, names: Sequence[str]) -> ProfileMode:
    """Median and MAD-sigma per column of (frames, features), with each feature's floor."""
    with warnings.catch_warnings():  # an all-NaN column is a feature nobody measured
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(values, axis=0)
        spread = MAD_TO_SIGMA * np.nanmedian(np.abs(values - centre), axis=0)
    floor = np.array([MIN_SCALE[n] for n in names])
    scale = np.where(np.isfinite(spread), np.maximum(spread, floor), np.nan)
    return ProfileMode(centre, scale, len(values))


def profile_from_features(
    values: np.ndarray,
    names: Sequence[str] = FEATURES,
    *,
    split_modes: bool = True,
    calibration: Calibration | None = None,
    background: np.ndarray | None = None,
    source: str = "",
) -> ReferenceProfile:
    """A profile of frames' features (frames, features); modes are found when asked."""
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] != len(names) or len(values) == 0:
        raise ProfileError(
            f"a profile needs a (frames, {len(names)}) feature array, got shape {values.shape}"
        )
    groups = _split(values, names) if split_modes else [values]
    modes = tuple(robust_mode(g, names) for g in groups)
    return ReferenceProfile(tuple(names), modes, calibration, background, source)


def _split(values: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
    """Bisect into distinct conditions while some feature clearly separates a group."""
    groups, done = [values], []
    while groups and len(groups) + len(done) < MAX_MODES:
        group = groups.pop(0)
        halves = _best_split(group, names)
        if halves is None:
            done.append(group)
        else:
            groups.extend(halves)
    return done + groups


def _best_split(values: np.ndarray, names: Sequence[str]) -> list[np.ndarray] | None:
    """Two groups cut on the image feature that is most bimodal (Otsu's criterion), if
    their medians lie at least `SPLIT_SIGMAS` robust sigmas of their own spread apart."""
    share = max(MIN_MODE_FRAMES, math.ceil(MIN_MODE_SHARE * len(values)))
    if len(values) < 2 * share:
        return None
    best = None
    for j, name in enumerate(names):
        column = values[:, j]
        if name not in IMAGE_FEATURES or not np.isfinite(column).all() or np.ptp(column) == 0:
            continue
        ordered = np.sort(column)
        n = len(ordered)
        cuts = np.arange(share, n - share + 1)
        sums = np.cumsum(ordered)[cuts - 1]
        low_mean, high_mean = sums / cuts, (ordered.sum() - sums) / (n - cuts)
        between = cuts * (n - cuts) * (low_mean - high_mean) ** 2 / (n * n * ordered.var())
        i = int(np.argmax(between))
        if best is None or between[i] > best[0]:
            best = (between[i], j, ordered[cuts[i] - 1], name)
    if best is None:
        return None
    _, j, edge, name = best
    low, high = values[values[:, j] <= edge], values[values[:, j] > edge]
    spread = max(_sigma(low[:, j]), _sigma(high[:, j]), MIN_SCALE[name])
    separation = (np.median(high[:, j]) - np.median(low[:, j])) / spread
    return [low, high] if separation >= SPLIT_SIGMAS and min(len(low), len(high)) >= share else None


def _sigma(values: np.ndarray) -> float:
    return MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def _array(values: list) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values])


def _pack(edges: np.ndarray | None) -> str | None:
    if edges is None:
        return None
    return base64.b64encode(np.packbits(np.asarray(edges, bool).ravel()).tobytes()).decode()


def _unpack(text: str | None) -> np.ndarray | None:
    if text is None:
        return None
    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), np.uint8))
    width, height = SMALL_SIZE
    return bits[: width * height].reshape(height, width).astype(bool)
