"""Counting on the synthetic camera against its true crossings, and what tracking costs.

    .venv/bin/python -m bench.counts [--day-seconds 600] [--night-seconds 300] [--seed 2]
        [--retrained MODEL.onnx ...]

The synthetic camera (10 fps, 640x360) is detected with the bundled model; a line across the
road (y 320, all four lanes, 19 m from the camera) counts the tracks; the world's own vehicles
give the true crossings (`tvdesk.core.tracking.truth`). Day is the target (error <= 5 % per
class and direction); night, before any retraining, is the failure an operator sees, and night
counted with the versions a retraining made (`--retrained`) is the repair. Each run's
detections are kept and counted again detecting only every 3rd frame, and again with
Roboflow's maintained `trackers.ByteTrackTracker` in place of ours when it is installed (it
needs SciPy, so it is a bench reference, not the player's). Measured in the same run: tracking
and counting per frame at ~20 boxes, the frames/s of a detection loop with and without them
(alternating rounds), and what importing each tracker loads.
Prints a table and writes bench/results/counts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tvdesk.config import bundled_model_path
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import Detections
from tvdesk.core.synth import Scenario, Segment, SyntheticCamera
from tvdesk.core.tracking import CountingLine, Tracker, TrackingSettings, Tracks, TrafficCounter
from tvdesk.core.tracking.truth import TrueLineCounts

FPS = 10.0
LINE = CountingLine("road", 60, 320, 620, 320)
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "counts.json"
NAMES = ("car", "truck", "bus", "motorcycle")
Totals = dict[tuple[str, str], int]


class LibraryTracker:
    """`trackers.ByteTrackTracker` behind tvdesk's `TrackSource`: detections in, `Tracks` out."""

    def __init__(self, **params: float) -> None:
        import supervision
        from trackers import ByteTrackTracker

        self._sv, self._make = supervision, lambda: ByteTrackTracker(frame_rate=FPS, **params)
        self._tracker = self._make()
        self._last: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        self._tracker, self._last = self._make(), {}

    def update(self, detections: Detections, t: float) -> Tracks:
        n = len(detections)
        given = self._sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.scores,
            class_id=detections.class_ids,
            data={"index": np.arange(n)},
        )
        out = self._tracker.update(given, timestamp=t)
        if len(out) == 0 or "index" not in out.data:
            return Tracks(t=t, names=detections.names)
        keep = out.tracker_id >= 0
        index, ids = out.data["index"][keep].astype(np.int64), out.tracker_id[keep].astype(np.int64)
        xyxy = detections.xyxy[index]
        previous = np.array([self._last.get(int(i), box) for i, box in zip(ids, xyxy, strict=True)])
        self._last.update({int(i): box for i, box in zip(ids, xyxy, strict=True)})
        return Tracks(
            t,
            xyxy,
            ids,
            detections.class_ids[index],
            detections.scores[index],
            previous.reshape(-1, 4).astype(np.float32),
            index,
            detections.names,
        )


def trackers_to_compare(settings: TrackingSettings) -> dict[str, Callable[[], object]]:
    """tvdesk's tracker, and the library's with its defaults and with tvdesk's thresholds."""
    makers: dict[str, Callable[[], object]] = {"tvdesk": lambda: Tracker(settings)}
    try:
        import trackers  # noqa: F401
    except ImportError:
        print("trackers is not installed: the library reference is left out")
        return makers
    makers["trackers defaults"] = LibraryTracker
    makers["trackers, tvdesk thresholds"] = lambda: LibraryTracker(
        track_activation_threshold=settings.new_track_score,
        high_conf_det_threshold=settings.high_score,
        minimum_iou_threshold=settings.match_iou,
        minimum_consecutive_frames=settings.confirm_hits,
    )
    return makers


def version_label(onnx: Path) -> str:
    """'tvdesk-base v3' for a registry's models/tvdesk-base/3/model.onnx, else the file name."""
    version, line = onnx.parent.name, onnx.parent.parent.name
    return f"{line} v{version}" if version.isdigit() else onnx.name


def record(condition: str, seconds: float, seed: int, detector: OnnxDetector):
    """Detections of every frame of `seconds` of `condition`, the true crossings, and those
    of them that no labelled box stood on (hidden by a nearer vehicle as they crossed)."""
    scenario = Scenario(condition, (Segment(condition, seconds),))
    camera = SyntheticCamera(scenario, fps=FPS, seed=seed)
    truth = TrueLineCounts(LINE, camera.renderer.camera)
    detections, hidden = [], {}
    for _ in range(camera.frame_count):
        crossed = truth.update(camera.traffic)
        frame = camera.read()
        detections.append(detector.detect(frame.image))
        for c in crossed:
            if not c.seen_in(frame.truth.boxes):
                hidden[(c.class_name, c.direction)] = hidden.get((c.class_name, c.direction), 0) + 1
    return detections, dict(truth.totals), hidden


def count(detections: list[Detections], every: int, tracker) -> tuple[Totals, np.ndarray]:
    """The line's totals when every `every`-th frame is detected, and ms per update."""
    counter = TrafficCounter([LINE], tracker=tracker)
    totals, times = {}, []
    for i in range(0, len(detections), every):
        began = time.perf_counter()
        totals = counter.update(detections[i], i / FPS, model_version="bench").totals
        times.append((time.perf_counter() - began) * 1e3)
    return {(c, d): n for (_, c, d), n in totals.items()}, np.array(times)


def compare(truth: Totals, hidden: Totals, app: Totals) -> dict:
    """Per class and direction: true count, how many were hidden as they crossed, counted,
    error, error in %; and a summary."""
    rows = []
    for name, direction in sorted(set(truth) | set(app)):
        true, counted = truth.get((name, direction), 0), app.get((name, direction), 0)
        pct = round(100.0 * (counted - true) / true, 1) if true else None
        rows.append(
            dict(
                cls=name,
                direction=direction,
                truth=true,
                hidden=hidden.get((name, direction), 0),
                app=counted,
                error=counted - true,
                error_pct=pct,
            )
        )
    met = all(r["error_pct"] is not None and abs(r["error_pct"]) <= 5.0 for r in rows)
    return dict(
        rows=rows,
        truth_total=sum(truth.values()),
        app_total=sum(app.values()),
        abs_error_sum=sum(abs(r["error"]) for r in rows),
        all_within_5pct=met,
    )


def moving_boxes(n: int, frames: int, seed: int = 0) -> list[Detections]:
    """`n` boxes at a time driving down or up a 640x360 frame, respawned as they leave."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(40, 560, n), rng.uniform(0, 360, n)
    speed = rng.choice([-1.0, 1.0], n) * rng.uniform(40, 120, n)  # px/s
    out = []
    for _ in range(frames):
        y = np.where((y > 400) | (y < -40), np.where(speed > 0, -30.0, 390.0), y + speed / FPS)
        xyxy = np.stack([x, y - 30, x + 40, y], axis=1) + rng.normal(0, 1.0, (n, 4))
        scores = rng.uniform(0.3, 0.95, n).astype(np.float32)
        out.append(Detections(xyxy.astype(np.float32), scores, rng.integers(0, 4, n), NAMES))
    return out


def tracking_cost(make: Callable[[], object], boxes: int = 20, frames: int = 3000) -> dict:
    """Milliseconds per `TrafficCounter.update` with `boxes` boxes a frame (after 100)."""
    counter = TrafficCounter([LINE], tracker=make())
    times = []
    for i, dets in enumerate(moving_boxes(boxes, frames)):
        began = time.perf_counter()
        counter.update(dets, i / FPS)
        times.append((time.perf_counter() - began) * 1e3)
    t = np.array(times[100:])
    return dict(
        boxes=boxes,
        frames=len(t),
        median_ms=round(float(np.median(t)), 3),
        p95_ms=round(float(np.percentile(t, 95)), 3),
    )


def loop_rates(detector: OnnxDetector, seconds: float = 30.0, rounds: int = 6) -> dict:
    """Frames/s of detect alone and of detect + tracking + counting, alternating rounds."""
    camera = SyntheticCamera(Scenario("day", (Segment("day", seconds),)), fps=FPS, seed=7)
    images = [frame.image for frame in camera]
    per_round = len(images) // rounds
    spent = {"detect only": 0.0, "detect + tracking + counting": 0.0}
    counter = TrafficCounter([LINE])
    for r in range(rounds):
        for name in list(spent) if r % 2 == 0 else list(spent)[::-1]:
            began = time.perf_counter()
            for i in range(r * per_round, (r + 1) * per_round):
                dets = detector.detect(images[i])
                if name != "detect only":
                    counter.update(dets, i / FPS)
            spent[name] += time.perf_counter() - began
    return {name: round(per_round * rounds / s, 2) for name, s in spent.items()}


IMPORT_PROBE = """
import sys, time
import numpy, cv2
before = set(sys.modules)
began = time.perf_counter()
{code}
ms = (time.perf_counter() - began) * 1e3
new = sorted({{m.split(".")[0] for m in set(sys.modules) - before}})
print(round(ms), len(set(sys.modules) - before), ",".join(m for m in new if m[0] != "_"))
"""
IMPORTS = {
    "tvdesk.core.tracking (lap)": "import tvdesk.core.tracking",
    "trackers.ByteTrackTracker": "from trackers import ByteTrackTracker; ByteTrackTracker()",
}
WATCH = ("scipy", "supervision", "PIL", "matplotlib", "av", "requests", "rich", "torch")


def import_footprint() -> dict:
    """What importing each tracker loads beyond NumPy and OpenCV, in a fresh interpreter."""
    out = {}
    for name, code in IMPORTS.items():
        probe = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(code=code)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if probe.returncode != 0:
            out[name] = {"error": probe.stderr.strip().splitlines()[-1]}
            continue
        ms, modules, packages = probe.stdout.split()
        loaded = packages.split(",")
        out[name] = dict(
            import_ms=int(ms), modules=int(modules), heavy=[p for p in WATCH if p in loaded]
        )
    return out


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def print_report(runs: list[dict], costs: dict, rates: dict, imports: dict) -> None:
    head = f"{'run':<48}{'class':<12}{'dir':<5}{'truth':>6}{'hidden':>7}{'app':>6}{'error':>7}"
    print(head + f"{'%':>8}")
    for run in runs:
        model = "" if run.get("model", "bundled") == "bundled" else f" ({run['model']})"
        label = f"{run['condition']}{model} every {run['every']} {run['tracker']}"
        for row in run["rows"] if run["tracker"] == "tvdesk" else []:
            pct = "-" if row["error_pct"] is None else f"{row['error_pct']:+.1f}"
            print(
                f"{label:<48}{row['cls']:<12}{row['direction']:<5}{row['truth']:>6}"
                f"{row['hidden']:>7}{row['app']:>6}{row['error']:>+7}{pct:>8}"
            )
        print(
            f"{label:<48}{'all (sum |error|)':<17}{run['truth_total']:>6}{'':>7}"
            f"{run['app_total']:>6}{run['abs_error_sum']:>7}   {run['update_median_ms']} ms/update"
        )
    for name, cost in costs.items():
        print(
            f"{name}: {cost['boxes']} boxes/frame, median {cost['median_ms']} ms, "
            f"p95 {cost['p95_ms']} ms per update ({cost['frames']} frames)"
        )
    print("detection loop, frames/s: " + ", ".join(f"{k} {v}" for k, v in rates.items()))
    for name, footprint in imports.items():
        print(f"import {name}: {footprint}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day-seconds", type=float, default=600.0)
    parser.add_argument("--night-seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=2, help="seed 1 was used to tune")
    parser.add_argument(
        "--retrained",
        type=Path,
        nargs="*",
        default=[],
        help="ONNX files of versions a retraining made for the night (a demo's "
        "models/tvdesk-base/N/model.onnx): the night is counted again with each",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    settings = TrackingSettings()
    makers = trackers_to_compare(settings)
    detector = OnnxDetector(bundled_model_path())
    plan = [
        ("day", args.day_seconds, detector, "bundled"),
        ("night", args.night_seconds, detector, "bundled"),
    ]
    for path in args.retrained:
        plan.append(("night", args.night_seconds, OnnxDetector(path), version_label(path)))
    runs = []
    for condition, seconds, model, model_label in plan:
        detections, truth, hidden = record(condition, seconds, args.seed, model)
        boxes = round(float(np.mean([len(d) for d in detections])), 1)
        for every in (1, 3):
            for name, make in makers.items():
                app, times = count(detections, every, make())
                runs.append(
                    dict(
                        condition=condition,
                        model=model_label,
                        seconds=seconds,
                        seed=args.seed,
                        every=every,
                        tracker=name,
                        boxes_per_frame=boxes,
                        update_median_ms=round(float(np.median(times)), 3),
                        **compare(truth, hidden, app),
                    )
                )
    costs = {name: tracking_cost(make) for name, make in makers.items()}
    rates, imports = loop_rates(detector), import_footprint()
    result = dict(
        machine=dict(cpu=cpu_name(), cores=os.cpu_count(), python=platform.python_version()),
        model=dict(
            file=bundled_model_path().name, version=detector.version, input=list(detector.input_hw)
        ),
        line=asdict(LINE),
        settings=asdict(settings),
        runs=runs,
        tracking_cost=costs,
        loop_frames_per_s=rates,
        imports=imports,
    )
    print_report(runs, costs, rates, imports)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
