"""Drift benchmark: our calibrated CUSUM against the seed's KS tests, side by side.

    .venv/bin/python -m bench.drift [--quick] [--write-card resources/models/tvdesk-base.json]

Prints a table and writes bench/results/drift.json. Renders are cached in build/drift-bench,
so only the first run pays for them (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench.drift_methods import KsTest, feature_matrix
from bench.drift_real import real_clips
from bench.drift_report import print_table, score_onsets
from bench.drift_runs import (
    STABLE_HOURS,
    Runner,
    dusk_confidence,
    stable_check,
    timing,
    validation,
)
from bench.drift_scenarios import (
    SCENARIOS,
    WorldSpec,
    build_world,
    emulate_onsets,
    render_onsets,
    stable_days,
)
from tvdesk.config import project_root
from tvdesk.core import atomic
from tvdesk.core.drift import FEATURES, DriftConfig, calibrate, profile_from_features
from tvdesk.core.drift.model_profile import CARD_KEY, training_features
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.retrain.dataset import ensure_base_dataset

logger = logging.getLogger("bench.drift")

RESULTS = project_root() / "bench" / "results"
SEED = 20261128
# How much each run renders and emulates; --quick only checks that everything runs.
FULL = {
    "world": WorldSpec(),
    "onsets": 20,
    "days": 30,
    "extra_days": 7,
    "validation_minutes": 8.0,
    "rendered_abrupt": 2,
    "rendered_gradual": 1,
    "render_pre": 30.0,
    "render_post": 360.0,
}
QUICK = {
    "world": WorldSpec(sequences=10, sequence_seconds=10.0, drift_pairs=3),
    "onsets": 4,
    "days": 3,
    "extra_days": 1,
    "validation_minutes": 1.0,
    "rendered_abrupt": 1,
    "rendered_gradual": 1,
    "render_pre": 12.0,
    "render_post": 10.0,
}


def attach_to_card(card_path: Path, profile: ReferenceProfile) -> None:
    """Write `profile` into the card at `card_path` (atomically; other keys untouched)."""
    try:
        card = json.loads(Path(card_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"cannot read the model card {card_path}: {exc}") from exc
    card[CARD_KEY] = profile.to_dict()
    atomic.write_text(Path(card_path), json.dumps(card, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer onsets and days (a check)")
    parser.add_argument("--workers", type=int, default=2, help="render processes")
    parser.add_argument("--write-card", type=Path, help="attach the calibrated profile to a card")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("tvdesk.core.drift").setLevel(logging.WARNING)  # one line per alarm
    started = time.perf_counter()
    size = QUICK if args.quick else FULL
    onsets = size["onsets"]
    with ProcessPoolExecutor(args.workers) as pool:
        data = ensure_base_dataset(project_root() / "data").parent
        training = training_features(data / "images")
        world, background = build_world(size["world"], pool)
        logger.info("world model ready; calibrating on %d days of stable video", size["days"])
        profile, calibration_seconds = _calibrated_profile(training, world, size["days"])
        if args.write_card:
            attach_to_card(args.write_card, profile)
            logger.info("attached the calibrated profile to %s", args.write_card)
        config = DriftConfig()
        runner = Runner(profile, KsTest(training, window=100), config, fps=world.fps)
        results: dict = {
            "calibration": {
                **profile.calibration.to_dict(),
                "seconds": round(calibration_seconds, 1),
            }
        }
        logger.info("checking the world model against rendered frames")
        results["validation"] = validation(
            world, profile, background, pool, runner, SEED, minutes=size["validation_minutes"]
        )
        logger.info("false alarms on %.0f h of stable video", STABLE_HOURS)
        results["stable"] = stable_check(world, runner, SEED + 1, size["extra_days"])
        results["scenarios"] = {}
        for i, scenario in enumerate(SCENARIOS):
            emulated = score_onsets(runner, emulate_onsets(world, scenario, onsets, SEED + 100 + i))
            count = size["rendered_abrupt" if scenario.fade_seconds == 0 else "rendered_gradual"]
            post = min(_render_window(scenario, emulated["ours"]), size["render_post"])
            seeds = [SEED + 200 + 10 * i + j for j in range(count)]
            rendered = render_onsets(
                scenario, seeds, size["render_pre"], post, world.fps, background, pool
            )
            results["scenarios"][scenario.name] = {
                "drift": scenario.drift,
                "fade_seconds": scenario.fade_seconds,
                "target": scenario.target,
                "emulated": emulated,
                "rendered": score_onsets(runner, rendered),
                "rendered_seconds_after_onset": post,
            }
            logger.info("scenario %s done", scenario.name)
        logger.info("the model's confidence at dusk, the real clips, the cost per frame")
        results["dusk_confidence"] = dusk_confidence(SEED + 300, pool)
        results["real_clips"] = real_clips(project_root().parent / "shared" / "realdata", config)
        results["timing"] = timing(profile, config, SEED + 400)
    results["meta"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
        "onsets_per_scenario": onsets,
        "stable_hours": STABLE_HOURS,
        "features": list(FEATURES),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "drift.json"
    out.write_text(json.dumps(results, indent=1, default=_plain) + "\n")
    print_table(results)
    print(f"\nwrote {out.relative_to(project_root())} in {results['meta']['seconds']:.0f} s")


def _calibrated_profile(training: np.ndarray, world, days: int):
    """The bundled model's profile, calibrated on `days` of the world's stable video."""
    start = time.perf_counter()
    profile = profile_from_features(
        training, FEATURES, source="training images of tvdesk-base (data/base)"
    )
    z = [profile.deviations_of_rows(feature_matrix(d))[0] for d in stable_days(world, days, 1)]
    calibration = calibrate(
        z,
        FEATURES,
        false_alarms_per_day=1.0,
        block_seconds=1.0,
        settle_blocks=int(DriftConfig().settle_seconds),
        source=f"{days} days of the synthetic world's stable video (feature-level model)",
    )
    return profile.with_calibration(calibration), time.perf_counter() - start


def _render_window(scenario, ours: dict) -> float:
    """How much video after the onset to render: past our emulated p90 delay, within reason."""
    delays = [d for d in ours["delays_s"] if d is not None]
    p90 = float(np.percentile(delays, 90)) if delays else scenario.post_seconds
    return float(min(scenario.post_seconds, max(20.0, p90 * 1.5 + 10.0)))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value)} as JSON")


if __name__ == "__main__":
    main()
