"""A feature-level model of the synthetic camera: days of stable video, and drift onsets by
the hundred, as frame features, where rendering (~30 ms a frame) could not afford them.

features(t) = g(nuisance(t)) + misfit(t) + residual(t). g is a quadratic regression of
rendered sequences' mean features on the nuisance; misfit is what g leaves unexplained,
drawn from the same sequences and interpolated between them; residual is the frame-to-frame
variation (traffic, noise, clouds passing) replayed from a rendered sequence with nearby
nuisance. A drift adds the feature change measured on paired renders at its current level.
The model is only trusted as far as it matches rendered frames: see the drift benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr

from bench.world_render import NUISANCE_HIGH, NUISANCE_LOW

NEAREST_SEQUENCES = 5  # a segment's residual comes from one of this many nearest sequences
RIDGE = 1e-3


@dataclass(frozen=True)
class NuisanceProcess:
    """How the harmless conditions wander through a day: each follows a slow stationary
    process whose values are uniform over the nuisance ranges; the sun sweeps its range."""

    cloud_minutes: float = 20.0
    traffic_minutes: float = 30.0
    noise_minutes: float = 60.0
    daylight_minutes: float = 60.0
    sun_sweep_hours: float = 12.0

    def trajectory(
        self, seconds: float, fps: float, rng: np.random.Generator, speedup: float = 1.0
    ) -> np.ndarray:
        """Nuisance per frame (frames, 5); `speedup` > 1 packs a day's wandering into less."""
        steps = int(np.ceil(seconds)) + 2
        minutes = (
            self.cloud_minutes,
            self.traffic_minutes,
            self.noise_minutes,
            self.daylight_minutes,
        )
        columns = [_uniform_process(steps, 60.0 * m / speedup, rng) for m in minutes]
        sweep = self.sun_sweep_hours * 3600.0 / speedup
        phase = rng.random() * 2.0 + np.arange(steps) / sweep
        columns.append(1.0 - np.abs(phase % 2.0 - 1.0))  # triangle wave over [0, 1]
        per_second = NUISANCE_LOW + (NUISANCE_HIGH - NUISANCE_LOW) * np.stack(columns, axis=1)
        times = np.arange(round(seconds * fps)) / fps
        return np.stack([np.interp(times, np.arange(steps), c) for c in per_second.T], axis=1)


def _uniform_process(steps: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) with correlation time `seconds`, mapped to uniform on [0, 1]."""
    phi = float(np.exp(-1.0 / max(seconds, 1.0)))
    shocks = rng.standard_normal(steps) * np.sqrt(1.0 - phi * phi)
    shocks[0] = rng.standard_normal()
    return ndtr(lfilter([1.0], [1.0, -phi], shocks))


def _design(nuisance: np.ndarray) -> np.ndarray:
    u = (np.atleast_2d(nuisance) - NUISANCE_LOW) / (NUISANCE_HIGH - NUISANCE_LOW)
    ones = np.ones((len(u), 1))
    return np.hstack([ones, u, u * u, u[:, [0]] * u[:, [3]], u[:, [0]] * u[:, [4]]])


@dataclass(frozen=True)
class WorldModel:
    """The fitted model; `fit` builds it from rendered sequences and drift pairs."""

    coef: np.ndarray  # (terms, features)
    nuisance: np.ndarray  # (sequences, 5) of the rendered sequences
    misfit: np.ndarray  # (sequences, features)
    residual: np.ndarray  # (sequences, frames, features), zero mean per sequence
    fps: float
    drift_levels: np.ndarray  # (levels,)
    drift_change: dict[str, np.ndarray]  # drift -> (levels, features), mean over pairs

    @classmethod
    def fit(
        cls,
        nuisance: np.ndarray,
        sequences: np.ndarray,
        fps: float,
        drift_levels: np.ndarray,
        drift_pairs: dict[str, np.ndarray],
    ) -> WorldModel:
        """`sequences` (S, frames, F) rendered at `nuisance` (S, 5); `drift_pairs` maps a
        drift to its paired changes (pairs, levels, F)."""
        means = np.nanmean(sequences, axis=1)
        x = _design(nuisance)
        coef = np.zeros((x.shape[1], means.shape[1]))
        for j in range(means.shape[1]):
            ok = np.isfinite(means[:, j])
            if ok.any():
                a = x[ok]
                coef[:, j] = np.linalg.solve(
                    a.T @ a + RIDGE * len(a) * np.eye(a.shape[1]), a.T @ means[ok, j]
                )
        misfit = means - x @ coef
        change = {name: np.nanmean(pairs, axis=0) for name, pairs in drift_pairs.items()}
        return cls(
            coef,
            np.asarray(nuisance),
            misfit,
            sequences - means[:, None, :],
            fps,
            np.asarray(drift_levels, np.float64),
            change,
        )

    def mean(self, nuisance: np.ndarray) -> np.ndarray:
        return _design(nuisance) @ self.coef

    def stable(
        self, nuisance: np.ndarray, rng: np.random.Generator, frames_per_row: int = 1
    ) -> np.ndarray:
        """Features (rows, F) of stable video along a nuisance trajectory (one row each).

        With `frames_per_row` > 1 each row is the mean of that many frames (a 1 s block at
        10 fps is 10): the same model, ten times cheaper for days of calibration video.
        """
        residual = self.residual
        if frames_per_row > 1:
            s, t, f = residual.shape
            t -= t % frames_per_row
            residual = np.nanmean(residual[:, :t].reshape(s, -1, frames_per_row, f), axis=2)
        rows, length = len(nuisance), residual.shape[1]
        starts = np.arange(0, rows, length)
        picks = self._nearby(nuisance[starts], rng)
        noise = residual[picks].reshape(-1, residual.shape[2])[:rows]
        centres = np.minimum(starts + length // 2, rows - 1)
        misfit = np.stack(
            [
                np.interp(np.arange(rows), centres, self.misfit[picks, j])
                for j in range(self.misfit.shape[1])
            ],
            axis=1,
        )
        return self.mean(nuisance) + misfit + noise

    def drifted(self, stable: np.ndarray, drift: str, level: np.ndarray) -> np.ndarray:
        """`stable` features with `drift` applied at `level` (0..1) per frame."""
        levels = np.concatenate([[0.0], self.drift_levels])
        change = np.vstack([np.zeros((1, stable.shape[1])), self.drift_change[drift]])
        shift = np.stack(
            [np.interp(level, levels, change[:, j]) for j in range(stable.shape[1])], axis=1
        )
        return stable + shift

    def _nearby(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each nuisance point, one of the rendered sequences nearest to it."""
        scale = NUISANCE_HIGH - NUISANCE_LOW
        distance = (((self.nuisance[None] - points[:, None]) / scale) ** 2).sum(axis=2)
        nearest = np.argsort(distance, axis=1)[:, :NEAREST_SEQUENCES]
        return nearest[np.arange(len(points)), rng.integers(nearest.shape[1], size=len(points))]
