"""Benchmark detecting every k-th frame: the boxes tracks carry between detections, and the
frames shown per second of a real 30 fps clip played at real time.

    .venv/bin/python -m bench.cadence [--clip PATH] [--frames N] [--with-job]
        [--out bench/results/cadence.json]

(1) Box quality: the real traffic model (at the size real cameras play at) detects every frame
of the clip; then every k-th frame (k = 2, 3) is given to a `BoxCarrier` and the boxes it
predicts for the frames between are matched one-to-one (Hungarian, `lap.lapjv` on 1 - IoU,
pairs of IoU >= `MIN_IOU`) to what the detector found on those very frames. Reported: the
mean IoU of the pairs, the share of detected boxes with a predicted partner (all, and those
scored >= 0.5, which may start a track), and the same for the reference measured in this
run: the last detected boxes held where they were.
(2) Frames shown per second: the clip played at real time by `FrameLoop` with
`detect_every_max` 1 and 3, alternating rounds so that drift in machine load hits both alike;
with `--with-job`, while a retraining's fine-tune runs beside it (`bench.cameras`'
`training_beside`: the local worker's nice 10 and one torch thread).

Needs ../shared/realdata/videos (dashcam_city_day_tmo_seattle1.mp4, 29.97 fps); skips, saying
so, when it is absent.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import lap
import numpy as np

from bench.cameras import training_beside
from bench.detector import environment, write_results
from tvdesk.config import Settings, project_root
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.detections import Detections, box_iou
from tvdesk.core.session.frame_loop import FrameLoop
from tvdesk.core.sources import FileSource
from tvdesk.core.tracking.carrier import BoxCarrier

CLIP = (
    project_root().parent / "shared" / "realdata" / "videos" / "dashcam_city_day_tmo_seattle1.mp4"
)
EVERY = (2, 3)
MIN_IOU = 0.3  # the least IoU of a predicted box and a detected one to count as partners
STRONG = 0.5  # the tracker's high_score: detections that may start a track
FRAMES = 600
PLAY_FRAMES = 300
ROUNDS = 3
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "cadence.json"


def read_frames(clip: Path, count: int) -> tuple[list[np.ndarray], float]:
    """The first `count` frames of `clip`, and its frame rate."""
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while len(frames) < count and (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames, fps


def pairs(predicted: Detections, detected: Detections) -> np.ndarray:
    """The IoU of each one-to-one pair (Hungarian on 1 - IoU) with IoU >= `MIN_IOU`, and the
    detected box of each: shape (pairs, 2) of (iou, detected index)."""
    if not len(predicted) or not len(detected):
        return np.zeros((0, 2))
    iou = box_iou(predicted.xyxy, detected.xyxy)
    _, column, _ = lap.lapjv(1.0 - iou, extend_cost=True, cost_limit=1.0 - MIN_IOU + 1e-9)
    rows = np.flatnonzero(column >= 0)
    kept = iou[rows, column[rows]] >= MIN_IOU
    rows = rows[kept]
    return np.stack([iou[rows, column[rows]], column[rows]], axis=1)


def carried(detections: list[Detections], fps: float, k: int, hold: bool) -> dict:
    """Mean IoU and partner shares of the boxes shown on the skipped frames of every-k."""
    carrier, ious, partners, strong_partners, boxes, strong_boxes = BoxCarrier(), [], 0, 0, 0, 0
    last = Detections()
    for index, detected in enumerate(detections):
        t = index / fps
        if index % k == 0:
            carrier.detected(detected, t)
            last = detected
            continue
        shown = last if hold else carrier.predicted(t)
        found = pairs(shown, detected)
        strong = detected.scores >= STRONG
        ious.extend(found[:, 0].tolist())
        partners += len(found)
        strong_partners += int(strong[found[:, 1].astype(int)].sum())
        boxes += len(detected)
        strong_boxes += int(strong.sum())
    return {
        "skipped_frames": sum(1 for i in range(len(detections)) if i % k),
        "detected_boxes": boxes,
        "mean_iou": round(float(np.mean(ious)), 3) if ious else None,
        "partnered": round(partners / max(boxes, 1), 3),
        "partnered_strong": round(strong_partners / max(strong_boxes, 1), 3),
    }


def box_quality(detector: OnnxDetector, frames: list[np.ndarray], fps: float) -> dict:
    started = time.perf_counter()
    detections = [detector.detect(frame) for frame in frames]
    seconds = time.perf_counter() - started
    return {
        "frames": len(frames),
        "detect_ms_mean": round(seconds / len(frames) * 1e3, 1),
        "boxes_per_frame": round(sum(map(len, detections)) / len(frames), 2),
        "carried": {k: carried(detections, fps, k, hold=False) for k in EVERY},
        "held": {k: carried(detections, fps, k, hold=True) for k in EVERY},
    }


def play(clip: Path, detector: OnnxDetector, most: int, frames: int, fps: float) -> dict:
    """Play the first `frames` frames of `clip` at real time; frames shown per second."""
    results = []
    loop = FrameLoop(
        FileSource(clip), DetectorSlot(detector), consumers=[results.append], detect_every_max=most
    )
    loop.start()
    while loop.running and (not results or results[-1].frame.index < frames - 1):
        time.sleep(0.05)
    loop.stop(5.0)
    shown = [r for r in results if r.frame.index < frames]
    seconds = (frames - 1) / fps
    return {
        "shown": len(shown),
        "detected": sum(r.detected for r in shown),
        "shown_per_s": round(len(shown) / seconds, 2),
        "detect_every": statistics.mode(r.stats.detect_every for r in shown),
    }


def shown_per_second(clip: Path, detector: OnnxDetector, fps: float, rounds: int) -> dict:
    runs: dict[int, list[dict]] = {1: [], 3: []}
    for _ in range(rounds):
        for most in runs:
            runs[most].append(play(clip, detector, most, PLAY_FRAMES, fps))
    median = {m: statistics.median(r["shown_per_s"] for r in rs) for m, rs in runs.items()}
    return {
        "frames": PLAY_FRAMES,
        "clip_fps": round(fps, 2),
        "runs": {str(m): rs for m, rs in runs.items()},
        "shown_per_s_median": {str(m): v for m, v in median.items()},
        "max3_over_max1": round(median[3] / median[1], 3),
    }


def print_table(results: dict) -> None:
    q = results["box_quality"]
    print(
        f"box quality on {q['frames']} frames of {results['clip']} (detector "
        f"{q['detect_ms_mean']} ms a frame, {q['boxes_per_frame']} boxes a frame; "
        f"pairs of IoU >= {MIN_IOU})"
    )
    print(f"  {'':28}{'mean IoU':>9}{'partnered':>11}{'(>= 0.5)':>10}")
    for name, rows in (("carried by tracks", q["carried"]), ("held still (reference)", q["held"])):
        for k, row in rows.items():
            print(
                f"  {name + f', k={k}':28}{row['mean_iou']:>9}{row['partnered']:>11}"
                f"{row['partnered_strong']:>10}"
            )
    if "playing" in results:
        p = results["playing"]
        print(
            f"\nplaying {p['frames']} frames at real time ({p['clip_fps']} fps), median of rounds"
        )
        for most, value in p["shown_per_s_median"].items():
            print(f"  detect_every_max {most}: {value:6.2f} frames shown per s")
        print(f"  ratio 3 / 1: {p['max3_over_max1']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=CLIP, help="a 30 fps video")
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames detected for (1)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds of (2)")
    parser.add_argument("--no-play", action="store_true", help="measure box quality only")
    parser.add_argument(
        "--with-job",
        action="store_true",
        help="play (2) while a retraining's fine-tune runs beside it, as the app's local "
        "worker runs one (nice 10, one torch thread)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.clip.exists():
        print(f"skipped: {args.clip} not found (the real clips live in ../shared/realdata)")
        return 0
    settings = Settings()
    detector = OnnxDetector(
        settings.traffic_model_path,
        conf=settings.confidence,
        iou=settings.iou,
        threads=settings.inference_threads,
        imgsz=settings.traffic_imgsz,
    )
    frames, fps = read_frames(args.clip, args.frames)
    results: dict = {
        "environment": environment(),
        "clip": args.clip.name,
        "model": settings.traffic_model_path.name,
        "imgsz": settings.traffic_imgsz,
        "inference_threads": settings.inference_threads,
        "min_iou": MIN_IOU,
        "box_quality": box_quality(detector, frames, fps),
    }
    if not args.no_play:
        trainer = training_beside(60.0) if args.with_job else None
        try:
            if trainer is not None:
                time.sleep(20.0)  # the fine-tune is past its set-up and training
            results["playing"] = shown_per_second(args.clip, detector, fps, args.rounds)
            results["playing"]["job_beside"] = trainer is not None and trainer.poll() is None
        finally:
            if trainer is not None:
                trainer.terminate()
                trainer.wait(30)
    print_table(results)
    results["load_average_at_end"] = os.getloadavg()  # other work on the machine skews times
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
