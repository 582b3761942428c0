"""After a swap to a night version: does the drift test stay quiet through the night?

    .venv/bin/python -m bench.drift_after_swap [--seconds 2400] [--swap 550]

The demo world (seed 0, 10 fps: day, night falling at 60-70 s, then night) is rendered once and
every frame's feature vector is kept as the drift monitor measures it (cached in
build/drift-after-swap/, a few minutes the first time). A night version's drift profile is made
the way registration makes it: 350 replayed base images and 25 s of the night's frames as
JPEGs (what round 1 trains on), the bundled calibration inherited. The monitor tests against the
bundled profile until the swap, then against the version's profile, widened by the frames the
capture ring holds at the swap (its last 2000 frames) in one of three ways:

- `none`: the version's profile as it is;
- `ring q0.99`: each image feature's scale stretched until the ring's blocks' own 0.99
  quantile is within the allowance (the first form of the fix);
- `tail` (what tvdesk does, `condition_spread.widened_to_stream`): until their 0.999 quantile,
  read off an exponential fitted to their top tenth, is.

Prints the alarms after the swap and the largest statistic / threshold, and writes
bench/results/drift_after_swap.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from bench.teacher_accuracy import machine
from tvdesk.config import project_root
from tvdesk.core.drift import FEATURES, DriftMonitor
from tvdesk.core.drift.condition_spread import widened_to_stream
from tvdesk.core.drift.model_profile import REPLAY_PREFIX, profile_from_card, profile_from_images
from tvdesk.core.drift.reference import ReferenceProfile
from tvdesk.core.session.capture import DEFAULT_CAPACITY, JPEG_QUALITY
from tvdesk.core.synth.camera import SyntheticCamera
from tvdesk.demo.headless import demo_scenario

CACHE = project_root() / "build" / "drift-after-swap"
RESULTS = project_root() / "bench" / "results"
MODELS = project_root() / "resources" / "models"
BASE_IMAGES = project_root() / "data" / "base" / "images" / "train"
FPS, SEED, DAY_S, FADE_S = 10.0, 0, 60.0, 10.0
NIGHT_TRAINED = (75.0, 100.0)  # stream seconds of night round 1 trains on, every 2nd frame
REPLAYED = 350


def recorded(seconds: float, base: ReferenceProfile) -> np.ndarray:
    """(frames, FEATURES) as the monitor measured them, rendering what the cache lacks."""
    path = CACHE / f"values-seed{SEED}-{seconds:g}s.npy"
    if path.exists():
        return np.load(path)
    camera = SyntheticCamera(demo_scenario(DAY_S, FADE_S), fps=FPS, seed=SEED)
    monitor = DriftMonitor(base)
    values = []
    for index in range(round(seconds * FPS)):
        frame = camera.read()
        values.append(np.array(monitor.update(frame.image, None, index / FPS).values))
        if NIGHT_TRAINED[0] <= index / FPS < NIGHT_TRAINED[1] and index % 2 == 0:
            _write_night(frame.image, index)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(values))
    return np.load(path)


def _write_night(image: np.ndarray, index: int) -> None:
    folder = CACHE / "version-images"
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(folder / f"night_{index:06d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )


def version_profile(base: ReferenceProfile) -> ReferenceProfile:
    """The night version's profile: replayed base images + the night it trained on."""
    folder = CACHE / "version-images"
    for image in sorted(BASE_IMAGES.glob("*.jpg"))[:REPLAYED]:
        target = folder / f"{REPLAY_PREFIX}{image.name}"
        if not target.exists():
            shutil.copyfile(image, target)
    profile = profile_from_images(folder, None, calibration=base.calibration, max_images=400)
    return profile.widened_to(base)


def quantile_stretch(z: np.ndarray, allowance: float) -> float:
    """The first form of the fix: the blocks' own 0.99 quantile within the allowance."""
    finite = z[np.isfinite(z)]
    return max(1.0, float(np.quantile(finite, 0.99)) / allowance) if finite.size else 1.0


WIDENINGS = {
    "none": lambda profile, rows, times: profile,
    "ring q0.99": lambda profile, rows, times: widened_to_stream(
        profile, rows, times, quantile_stretch
    ),
    "tail": widened_to_stream,
}


def replay(values, base, version, swap_s, widen) -> dict:
    monitor, alarms, largest = DriftMonitor(base), [], (0.0, "", 0.0)
    swap = round(swap_s * FPS)
    times = np.arange(len(values)) / FPS
    stretched: dict[str, float] = {}
    for index, row in enumerate(values):
        if index == swap:
            ring = slice(max(0, swap - DEFAULT_CAPACITY), swap)
            reference = widen(version, values[ring], times[ring])
            stretched = _stretch(version, reference)
            monitor.set_reference(reference)
        status = monitor.observe(row, times[index])
        if index < swap:
            continue
        if status.raised is not None:
            alarms.append({"stream_s": round(times[index], 1), "summary": status.raised.summary})
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nan_to_num(np.abs(status.statistic) / status.threshold, posinf=0.0)
        if ratio.max() > largest[0]:
            largest = (float(ratio.max()), FEATURES[int(ratio.argmax())], float(times[index]))
    return {
        "alarms_after_swap": alarms,
        "largest_ratio": round(largest[0], 3),
        "largest_feature": largest[1],
        "largest_at_s": largest[2],
        "stretch": stretched,
    }


def _stretch(before: ReferenceProfile, after: ReferenceProfile) -> dict[str, float]:
    """The night mode's scale after / before, for the features it changed."""
    night = int(np.argmin([m.centre[FEATURES.index("luma_mean")] for m in before.modes]))
    ratio = after.modes[night].scale / before.modes[night].scale
    return {
        FEATURES[j]: round(float(r), 2) for j, r in enumerate(ratio) if np.isfinite(r) and r > 1
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2400.0, help="stream seconds")
    parser.add_argument("--swap", type=float, default=550.0, help="stream second of the swap")
    parser.add_argument("--out", type=Path, default=RESULTS / "drift_after_swap.json")
    args = parser.parse_args(argv)
    began = time.time()
    base = profile_from_card(json.loads((MODELS / "tvdesk-base.json").read_text()), MODELS)
    values = recorded(args.seconds, base)
    version = version_profile(base)
    rows = {name: replay(values, base, version, args.swap, w) for name, w in WIDENINGS.items()}
    print(f"\nnight version live at {args.swap:g} s, watched until {args.seconds:g} s")
    print(f"{'widening':12s} {'alarms':>6s} {'first':>8s} {'largest':>8s}  feature")
    for name, row in rows.items():
        first = row["alarms_after_swap"][0]["stream_s"] if row["alarms_after_swap"] else None
        print(
            f"{name:12s} {len(row['alarms_after_swap']):6d} "
            f"{'-' if first is None else f'{first:.0f} s':>8s} {row['largest_ratio']:8.2f}  "
            f"{row['largest_feature']}"
        )
    result = {
        "world": {"seed": SEED, "fps": FPS, "day_s": DAY_S, "fade_s": FADE_S},
        "night_trained_s": NIGHT_TRAINED,
        "replayed_base_images": REPLAYED,
        "ring_frames": DEFAULT_CAPACITY,
        "swap_s": args.swap,
        "seconds": args.seconds,
        "widenings": rows,
        "machine": machine(),
        "took_s": round(time.time() - began, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
