"""The runs of the drift benchmark: every method on the same streams, and the checks of the
world model, the model's confidence at dusk, the real clips and the cost per frame."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.stats import ks_2samp

from bench import world_render
from bench.drift_methods import (
    KsTest,
    alarm_intervals,
    feature_matrix,
    run_ours,
    test_ends,
)
from bench.drift_scenarios import render_stable, stable_days
from bench.world_model import NuisanceProcess, WorldModel
from tvdesk.config import bundled_model_path
from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift import (
    FEATURES,
    IMAGE_FEATURES,
    DriftConfig,
    DriftMonitor,
    FrameFeatures,
    ReferenceProfile,
)
from tvdesk.core.synth import SceneRenderer
from tvdesk.core.synth.vehicles import sample_traffic

logger = logging.getLogger("bench.drift")

STABLE_HOURS = 12.0
KS_LEVEL = 0.05
METHODS = ("KS p<0.05 (seed)", "KS + Bonferroni", "KS matched", "ours")
Intervals = list[tuple[float, float | None]]


class Runner:
    """Runs every method on a stream of frame features; KS's matched level is set by
    `match` on the stable stream."""

    def __init__(
        self, profile: ReferenceProfile, ks: KsTest, config: DriftConfig, fps: float
    ) -> None:
        self.profile, self.ks, self.config, self.fps = profile, ks, config, fps
        tested = sum(r.size > 0 for r in ks.reference)
        self.levels = {METHODS[0]: KS_LEVEL, METHODS[1]: KS_LEVEL / max(tested, 1)}
        self.critical = {m: ks.critical(level) for m, level in self.levels.items()}
        self.matched = np.inf  # KS score (max D / its 0.05 critical value) that alarms

    def ks_scores(self, features: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Test times and D per (test, feature) of the once-a-second KS tests."""
        ends = test_ends(len(features), self.fps, self.ks.window)
        return times[ends - 1], self.ks.statistics(features, ends)

    def ks_fire(self, d: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore"):
            fire = {m: (d > c[None, :]).any(axis=1) for m, c in self.critical.items()}
            fire[METHODS[2]] = self.score(d) > self.matched
        return fire

    def score(self, d: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.nanmax(np.where(np.isfinite(d), d / self.critical[METHODS[0]], 0.0), axis=1)

    def run(self, features: np.ndarray, times: np.ndarray) -> dict[str, Intervals]:
        test_times, d = self.ks_scores(features, times)
        out = {
            m: alarm_intervals(f, test_times, self.config.settle_seconds)
            for m, f in self.ks_fire(d).items()
        }
        out["ours"], _ = run_ours(self.profile, features, times, self.config)
        return out

    def match(self, score: np.ndarray, test_times: np.ndarray, alarms: int) -> float:
        """The lowest KS score level that raises at most `alarms` alarms on this stream."""
        candidates = np.unique(score[np.isfinite(score)])[::-1]  # descending
        low, high = 0, len(candidates)  # level candidates[i]: fires on score > it
        while low < high:
            middle = (low + high + 1) // 2
            fired = alarm_intervals(
                score > candidates[middle - 1], test_times, self.config.settle_seconds
            )
            low, high = (middle, high) if len(fired) <= alarms else (low, middle - 1)
        self.matched = float(candidates[low - 1]) if low > 0 else np.inf
        return self.matched


def stable_check(world: WorldModel, runner: Runner, seed: int, extra_days: int) -> dict:
    """False alarms of every method on a 12 h stable stream (ours also on extra days)."""
    rng = np.random.default_rng(seed)
    nuisance = NuisanceProcess().trajectory(STABLE_HOURS * 3600, world.fps, rng)
    features = feature_matrix(world.stable(nuisance, rng))
    times = np.arange(len(features)) / world.fps
    days = STABLE_HOURS / 24.0
    ours, micros = run_ours(runner.profile, features, times, runner.config)
    test_times, d = runner.ks_scores(features, times)
    score = runner.score(d)
    runner.match(score, test_times, len(ours))
    out = {
        "hours": STABLE_HOURS,
        "frames": len(features),
        "ours_test_us_per_frame": micros,
        "alarms": {},
        "ks_levels": dict(runner.levels),
        "ks_matched_score": runner.matched,
        "ks_score_quantiles": np.quantile(score, [0.0, 0.5, 1.0]).tolist(),
    }
    for method, fire in runner.ks_fire(d).items():
        found = alarm_intervals(fire, test_times, runner.config.settle_seconds)
        out["alarms"][method] = _false_alarms(found, days, STABLE_HOURS * 3600)
    out["alarms"]["ours"] = _false_alarms(ours, days, STABLE_HOURS * 3600)
    out["ours_extra_days"] = _extra_days(world, runner, seed + 1, extra_days)
    return out


def _false_alarms(found: Intervals, days: float, seconds: float) -> dict:
    """Alarms raised, per day, and the share of the time spent in alarm."""
    held = sum((seconds if end is None else end) - start for start, end in found)
    return {"count": len(found), "per_day": len(found) / days, "time_in_alarm": held / seconds}


def _extra_days(world: WorldModel, runner: Runner, seed: int, days: int) -> dict:
    """Our monitor on more days of stable video, fed 1 s block means (one row per block)."""
    alarms = 0
    for blocks in stable_days(world, days, seed):
        found, _ = run_ours(
            runner.profile,
            feature_matrix(blocks),
            np.arange(len(blocks), dtype=np.float64),
            runner.config,
        )
        alarms += len(found)
    return {"days": days, "alarms": alarms, "per_day": alarms / max(days, 1)}


def validation(
    world: WorldModel,
    profile: ReferenceProfile,
    background: np.ndarray,
    pool: ProcessPoolExecutor,
    runner: Runner,
    seed: int,
    minutes: float = 10.0,
    speedup: float = 72.0,
) -> dict:
    """The world model against rendered frames: a stable stream whose nuisance sweeps a
    day's range in minutes, rendered and emulated along the same nuisance."""
    rendered = render_stable(seed, minutes * 60, world.fps, speedup, background, pool)
    nuisance = rendered["nuisance"]
    emulated = world.stable(nuisance, np.random.default_rng(seed))
    per = round(world.fps)
    blocks = {}
    for name, frames in (("rendered", rendered["features"]), ("emulated", emulated)):
        n = len(frames) // per * per
        mean = np.nanmean(frames[:n].reshape(-1, per, frames.shape[1]), axis=1)
        blocks[name] = profile.deviations_of_rows(feature_matrix(mean))[0]
    features = {}
    for j, name in enumerate(IMAGE_FEATURES):
        r, e = blocks["rendered"][:, j], blocks["emulated"][:, j]
        if not np.isfinite(r).any():
            continue
        features[name] = {
            "rendered": _moments(r),
            "emulated": _moments(e),
            "block_correlation": float(np.corrcoef(r, e)[0, 1]),
        }
    times = np.arange(len(rendered["features"])) / world.fps
    runs = {
        "rendered": runner.run(feature_matrix(rendered["features"]), times),
        "emulated": runner.run(feature_matrix(emulated), times),
    }
    return {
        "minutes": minutes,
        "nuisance_speedup": speedup,
        "features": features,
        "alarms": {k: {m: len(v) for m, v in r.items()} for k, r in runs.items()},
    }


def _moments(z: np.ndarray) -> dict:
    z = z[np.isfinite(z)]
    lag = float(np.corrcoef(z[:-1], z[1:])[0, 1]) if z.size > 2 else float("nan")
    q = np.quantile(z, [0.01, 0.5, 0.99])
    return {
        "mean": float(z.mean()),
        "sd": float(z.std()),
        "q01": float(q[0]),
        "median": float(q[1]),
        "q99": float(q[2]),
        "lag1": lag,
    }


def _dusk_frames(args: tuple) -> list[tuple[float, float, int]]:
    """(level, mean confidence or 0 without boxes, boxes) of frames along a day->night fade."""
    from tvdesk.core.detector import OnnxDetector

    seed, levels, model = args
    detector = OnnxDetector(model)
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    out = []
    for level in levels:
        c = world_render.DRIFTS["night"].at(
            world_render.day_conditions(world_render.sample_nuisance(rng, 1)[0]), level
        )
        frame = renderer.render(
            sample_traffic(rng, renderer.camera, c.traffic_density),
            c,
            rng,
            float(rng.uniform(0, 600)),
        )
        found = detector.detect(frame.image)
        out.append((float(level), float(np.mean(found.scores)) if len(found) else 0.0, len(found)))
    return out


def dusk_confidence(
    seed: int,
    pool: ProcessPoolExecutor,
    fade_seconds: float = 900.0,
    steps: int = 31,
    per_step: int = 8,
) -> dict:
    """When, in a 15-minute fade to night, the bundled model's mean confidence has dropped
    by a third (frames without boxes count as zero confidence)."""
    model = bundled_model_path()
    if not model.exists():
        return {"available": False, "why": f"no bundled model at {model}"}
    levels = np.repeat(np.linspace(0.0, 1.0, steps), per_step)
    jobs = [(seed + i, part, str(model)) for i, part in enumerate(np.array_split(levels, 2))]
    rows = np.array([r for part in pool.map(_dusk_frames, jobs) for r in part])
    grid = np.linspace(0.0, 1.0, steps)
    confidence = np.array([rows[np.isclose(rows[:, 0], g), 1].mean() for g in grid])
    boxes = np.array([rows[np.isclose(rows[:, 0], g), 2].mean() for g in grid])
    smooth = np.convolve(np.pad(confidence, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    below = np.flatnonzero(smooth <= smooth[0] * 2.0 / 3.0)
    drop = float(grid[below[0]] * fade_seconds) if below.size else None
    return {
        "available": True,
        "fade_seconds": fade_seconds,
        "levels": grid.tolist(),
        "mean_confidence": confidence.tolist(),
        "boxes_per_frame": boxes.tolist(),
        "third_drop_seconds": drop,
        "frames": len(rows),
    }


def timing(
    profile: ReferenceProfile, config: DriftConfig, seed: int, frames: int = 40, passes: int = 10
) -> dict:
    """Cost per frame on rendered 640x360 frames, as wall time and as this process's CPU
    time (the machine may be shared): our features + test, and the seed's KS."""
    renderer = SceneRenderer()
    rng = np.random.default_rng(seed)
    images = []
    for i in range(frames):
        drift = list(world_render.DRIFTS)[i % len(world_render.DRIFTS)]
        c = world_render.DRIFTS[drift].at(
            world_render.day_conditions(world_render.sample_nuisance(rng, 1)[0]), (i % 3) / 2
        )
        images.append(renderer.render(sample_traffic(rng, renderer.camera, 0.6), c, rng).image)
    extractor = FrameFeatures(np.ones((90, 160), bool))
    monitor = DriftMonitor(profile, config)
    detections = Detections()
    count = passes * frames
    features = _cost(lambda i: extractor(images[i % frames]), count)
    ours = _cost(lambda i: monitor.update(images[i % frames], detections, i / 10.0), count)
    reference = np.random.default_rng(seed).normal(size=(600, len(FEATURES) - 3))
    window = np.random.default_rng(seed + 1).normal(size=(100, reference.shape[1]))
    per_test = _cost(
        lambda i: [ks_2samp(reference[:, j], window[:, j]) for j in range(reference.shape[1])],
        passes,
    )
    fps = 10.0  # the seed tests once a second: its per-frame share of one test
    return {
        "frames": "640x360 rendered, all conditions; wall and CPU ms per frame",
        "features_ms": features,
        "ours_features_and_test_ms": ours,
        "ks_test_per_second_ms": per_test,
        "ks_features_and_test_ms": {k: features[k] + per_test[k] / fps for k in features},
    }


def _cost(work, count: int) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        work(i)
    return {
        "wall": (time.perf_counter() - wall) / count * 1e3,
        "cpu": (time.process_time() - cpu) / count * 1e3,
    }
