"""Scenarios of the drift benchmark and the synthetic world behind them.

The world is a feature-level model (`WorldModel`) fitted on rendered sequences and paired
drift renders; rendering is cached under build/drift-bench, keyed by what was rendered, so
a second run only redoes the statistics. Onsets are emulated by the model by the hundred,
and a few of each kind are rendered to check the model against real pixels.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench import world_render
from bench.drift_methods import feature_matrix
from bench.world_model import NuisanceProcess, WorldModel
from tvdesk.config import project_root
from tvdesk.core.drift.features import FEATURES_VERSION

logger = logging.getLogger(__name__)

CACHE = project_root() / "build" / "drift-bench"
PRE_SECONDS = 120.0  # stable video before each onset
AFTER_FADE_SECONDS = 120.0  # video kept after a fade (or an abrupt change) completes


@dataclass(frozen=True)
class WorldSpec:
    """What is rendered to fit the world model."""

    seed: int = 0
    sequences: int = 32
    sequence_seconds: float = 15.0
    fps: float = 10.0
    drift_pairs: int = 8
    drift_levels: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

    def key(self) -> str:
        return hashlib.sha256(repr((asdict(self), FEATURES_VERSION)).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Scenario:
    """A kind of drift onset: which drift, how fast it fades in (0 = abrupt), its target."""

    name: str
    drift: str
    fade_seconds: float
    target: str  # what the issue asks of it, in words

    @property
    def post_seconds(self) -> float:
        return self.fade_seconds + AFTER_FADE_SECONDS

    def level(self, times: np.ndarray, onset: float) -> np.ndarray:
        if self.fade_seconds <= 0:
            return (times >= onset).astype(np.float64)
        return np.clip((times - onset) / self.fade_seconds, 0.0, 1.0)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("night, abrupt", "night", 0.0, "median delay <= 5 s"),
    Scenario(
        "dusk: night over 15 min",
        "night",
        900.0,
        "before the model's mean confidence drops by a third",
    ),
    Scenario("rain, abrupt", "rain", 0.0, "median delay <= 90 s"),
    Scenario("rain over 5 min", "rain", 300.0, "median delay <= 90 s"),
    Scenario("fog, abrupt", "fog", 0.0, "median delay <= 120 s"),
    Scenario("fog over 5 min", "fog", 300.0, "median delay <= 120 s"),
    Scenario("camera shift, abrupt", "camera_shift", 0.0, "median delay <= 5 s"),
    Scenario("camera shift over 5 min", "camera_shift", 300.0, "(no target)"),
    Scenario("dirty lens, abrupt", "dirty_lens", 0.0, "detected in >= half the onsets"),
    Scenario("dirty lens over 10 min", "dirty_lens", 600.0, "detected in >= half the onsets"),
)


def _cached(name: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    path = CACHE / f"{name}-f{FEATURES_VERSION}.npz"
    if path.exists():
        with np.load(path) as data:
            return dict(data)
    result = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **result)
    return result


def build_world(spec: WorldSpec, pool: ProcessPoolExecutor) -> tuple[WorldModel, np.ndarray]:
    """The fitted world model and the site's background edges (rendered once, then cached)."""

    def render() -> dict[str, np.ndarray]:
        background = world_render.learn_background(spec.seed)
        n = spec.sequences
        seeds = [spec.seed * 1000 + 10 * i for i in range(n)]
        sequences = list(
            pool.map(
                world_render.render_sequence,
                seeds,
                [spec.sequence_seconds] * n,
                [spec.fps] * n,
                [background] * n,
            )
        )
        out = {
            "background": background,
            "nuisance": np.array([s[0] for s in sequences]),
            "sequences": np.array([s[1] for s in sequences]),
        }
        levels = list(spec.drift_levels)
        for drift in world_render.DRIFTS:
            pair_seeds = [spec.seed * 1000 + 500 + i for i in range(spec.drift_pairs)]
            out[f"pairs_{drift}"] = np.array(
                list(
                    pool.map(
                        world_render.render_drift_pairs,
                        pair_seeds,
                        [drift] * len(pair_seeds),
                        [levels] * len(pair_seeds),
                        [background] * len(pair_seeds),
                    )
                )
            )
        return out

    data = _cached(f"world-{spec.key()}", render)
    pairs = {d: data[f"pairs_{d}"] for d in world_render.DRIFTS}
    world = WorldModel.fit(
        data["nuisance"], data["sequences"], spec.fps, np.array(spec.drift_levels), pairs
    )
    return world, data["background"]


def nuisance_conditions(
    nuisance: np.ndarray, drift: str | None = None, level: np.ndarray | None = None
) -> list:
    """Conditions per frame for a nuisance trajectory, with a drift blended in by level."""
    out = []
    for i, point in enumerate(nuisance):
        c = world_render.day_conditions(point)
        if drift is not None and level is not None and level[i] > 0:
            c = world_render.DRIFTS[drift].at(c, float(level[i]))
        out.append(c)
    return out


def _render_path(args: tuple) -> np.ndarray:
    seed, conditions, fps, background = args
    return world_render.render_path(seed, conditions, fps, background)


def render_stable(
    seed: int,
    seconds: float,
    fps: float,
    speedup: float,
    background: np.ndarray,
    pool: ProcessPoolExecutor,
    chunks: int = 2,
) -> dict[str, np.ndarray]:
    """A rendered stable stream whose nuisance wanders `speedup` times faster than a day's
    (so minutes cover the day's range), in `chunks` rendered side by side; cached."""

    def render() -> dict[str, np.ndarray]:
        nuisance = NuisanceProcess().trajectory(seconds, fps, np.random.default_rng(seed), speedup)
        parts = np.array_split(np.arange(len(nuisance)), chunks)
        jobs = [
            (seed + i, nuisance_conditions(nuisance[p]), fps, background)
            for i, p in enumerate(parts)
        ]
        return {"nuisance": nuisance, "features": np.vstack(list(pool.map(_render_path, jobs)))}

    return _cached(
        f"stable-{seed}-{seconds:.0f}-{fps:.0f}-{speedup:.0f}-{_digest(background)}", render
    )


@dataclass(frozen=True)
class Onset:
    """One onset stream: frame features, their times, and when the drift began."""

    features: np.ndarray
    times: np.ndarray
    onset: float


def emulate_onsets(world: WorldModel, scenario: Scenario, count: int, seed: int) -> list[Onset]:
    rng = np.random.default_rng(seed)
    seconds = PRE_SECONDS + scenario.post_seconds
    out = []
    for _ in range(count):
        nuisance = NuisanceProcess().trajectory(seconds, world.fps, rng)
        times = np.arange(len(nuisance)) / world.fps
        stable = world.stable(nuisance, rng)
        level = scenario.level(times, PRE_SECONDS)
        features = feature_matrix(world.drifted(stable, scenario.drift, level))
        out.append(Onset(features, times, PRE_SECONDS))
    return out


def render_onsets(
    scenario: Scenario,
    seeds: Sequence[int],
    pre_seconds: float,
    post_seconds: float,
    fps: float,
    background: np.ndarray,
    pool: ProcessPoolExecutor,
) -> list[Onset]:
    """Onsets rendered frame by frame (cached), for checking the emulated ones."""
    seconds = pre_seconds + post_seconds
    key = (
        f"onsets-{scenario.drift}-{scenario.fade_seconds:.0f}-{pre_seconds:.0f}-"
        f"{post_seconds:.0f}-{fps:.0f}-{'_'.join(map(str, seeds))}-{_digest(background)}"
    )

    def render() -> dict[str, np.ndarray]:
        jobs = []
        for seed in seeds:
            nuisance = NuisanceProcess().trajectory(seconds, fps, np.random.default_rng(seed))
            level = scenario.level(np.arange(len(nuisance)) / fps, pre_seconds)
            jobs.append(
                (seed, nuisance_conditions(nuisance, scenario.drift, level), fps, background)
            )
        return {str(s): f for s, f in zip(seeds, pool.map(_render_path, jobs), strict=True)}

    data = _cached(key, render)
    return [
        Onset(feature_matrix(data[str(s)]), np.arange(len(data[str(s)])) / fps, pre_seconds)
        for s in seeds
    ]


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:8]


def stable_days(world: WorldModel, days: int, seed: int) -> list[np.ndarray]:
    """Days of stable video as 1 s block means (86400, features) each."""
    rng = np.random.default_rng(seed)
    frames = round(world.fps)
    return [
        world.stable(NuisanceProcess().trajectory(86400, 1.0, rng), rng, frames)
        for _ in range(days)
    ]


def cache_path(name: str) -> Path:
    return CACHE / name
