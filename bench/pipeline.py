"""Benchmark the frame loop: what it adds to the detector, and its latency on a live camera.

    .venv/bin/python -m bench.pipeline [--model PATH] [--out bench/results/pipeline.json]

(1) Every-frame throughput on a 1280x720 video file: the detector alone on the file's frames
decoded into memory beforehand, against `FrameLoop(every_frame=True)` reading the same file
(decoding, detection, stats, a consumer). Timed in alternating rounds so that drift in machine
load hits both alike; the ratio loop/detector is the loop's efficiency (target >= 0.95).
(2) Latency, capture to result, with a live camera faster than the detector: the FrameLoop
reads it latest-frame-wins; the reference is a plain FIFO queue fed by the same camera for the
same time, whose latency grows without bound. Both are measured in this run, on this machine.
(3) Tracking and counting: the player's every-frame fps on the same file with and without the
camera's counting observer (`CameraCounting`, a line across the road), alternating rounds, the
observer's ms per frame inside the loop, and its ms per frame at 20 boxes against the
`TrafficCounter` it wraps alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from bench.counts import moving_boxes
from tvdesk.config import Settings, bundled_model_path
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.session.counting import COUNTS, CameraCounting
from tvdesk.core.session.frame_loop import FrameLoop, FrameResult
from tvdesk.core.sources import FileSource, Frame, SourceInfo, VideoSource, make_frame
from tvdesk.core.store import CountingShape
from tvdesk.core.synth import SyntheticCamera
from tvdesk.core.tracking import CountingLine, TrafficCounter

SIZE = (1280, 720)
FRAMES = 120
ROUNDS = 5
LIVE_SECONDS = 12.0
CAMERA_SPEEDUP = 2.0  # the camera runs this many times faster than the detector can
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "pipeline.json"


def render_video(path: Path, frames: int) -> list[np.ndarray]:
    """A 1280x720 mp4 of the synthetic day scene; returns its frames as decoded from the file."""
    camera = SyntheticCamera("day", fps=25.0, seed=3, width=SIZE[0], height=SIZE[1])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, SIZE)
    for _ in range(frames):
        writer.write(camera.read().image)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while (frame := capture.read())[0]:
        decoded.append(frame[1])
    return decoded


def detector_alone(detector: OnnxDetector, frames: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for frame in frames:
        detector.detect(frame)
    return len(frames) / (time.perf_counter() - started)


def loop_every_frame(detector: OnnxDetector, path: Path, observers: dict | None = None) -> float:
    """Frames/s of the every-frame loop on `path` (with `observers`: counting, say)."""
    results: list[FrameResult] = []
    loop = FrameLoop(
        FileSource(path),
        DetectorSlot(detector),
        observers=observers,
        consumers=[results.append],
        every_frame=True,
    )
    started = time.perf_counter()
    loop.start()
    outcome = loop.wait()
    elapsed = time.perf_counter() - started
    assert outcome.reason == "ended" and outcome.frames == len(results), outcome
    return len(results) / elapsed


def throughput(detector: OnnxDetector, path: Path, frames: list[np.ndarray], rounds: int) -> dict:
    detector.warm_up(sample=frames[0])
    alone, looped = [], []
    for _ in range(rounds):
        alone.append(detector_alone(detector, frames))
        looped.append(loop_every_frame(detector, path))
    return {
        "frames": len(frames),
        "rounds": rounds,
        "detector_fps": _round(alone),
        "loop_fps": _round(looped),
        "detector_fps_median": round(float(np.median(alone)), 2),
        "loop_fps_median": round(float(np.median(looped)), 2),
        "loop_over_detector": round(float(np.median(looped) / np.median(alone)), 3),
    }


class ReplayCamera(VideoSource):
    """A live camera showing `frames` in a cycle at `fps`, whether or not anyone keeps up."""

    def __init__(self, frames: list[np.ndarray], fps: float) -> None:
        super().__init__()
        self.frames = frames
        self.fps = fps
        self._index = 0
        self._started = time.monotonic()

    @property
    def info(self) -> SourceInfo:
        return SourceInfo("bench", "replay camera", self.fps, SIZE, None, live=True, seekable=False)

    def read(self) -> Frame | None:
        due = self._started + self._index / self.fps
        if self._interrupted.wait(max(0.0, due - time.monotonic())):
            return None
        image = self.frames[self._index % len(self.frames)]
        frame = make_frame(image, self._index, self._index / self.fps, 0.0)
        self._index += 1
        return frame

    def close(self) -> None:
        """Nothing to release."""


def latency_summary(samples: list[tuple[float, float]], camera_frames: int, seconds: float) -> dict:
    """Percentiles of (time into the run, latency ms), and how latency moved over the run."""
    latencies = np.array([ms for _, ms in samples])
    third = max(1, len(latencies) // 3)
    return {
        "results": len(latencies),
        "camera_frames": camera_frames,
        "results_per_s": round(len(latencies) / seconds, 2),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
        "latency_ms_max": round(float(latencies.max()), 1),
        "latency_ms_first_third": round(float(latencies[:third].mean()), 1),
        "latency_ms_last_third": round(float(latencies[-third:].mean()), 1),
    }


def live_latest_frame_wins(
    detector: OnnxDetector, frames: list[np.ndarray], fps: float, seconds: float
) -> dict:
    samples: list[tuple[float, float]] = []
    camera = ReplayCamera(frames, fps)
    started = time.monotonic()
    loop = FrameLoop(
        camera,
        DetectorSlot(detector),
        consumers=[lambda r: samples.append((time.monotonic() - started, r.stats.latency_ms))],
    )
    loop.start()
    time.sleep(seconds)
    assert loop.stop(2.0), "the loop did not stop"
    summary = latency_summary(samples, camera._index, seconds)
    return {**summary, "dropped": loop.dropped}


def live_fifo_reference(
    detector: OnnxDetector, frames: list[np.ndarray], fps: float, seconds: float
) -> dict:
    """The same camera into an unbounded FIFO queue, detected in arrival order."""
    camera = ReplayCamera(frames, fps)
    fifo: queue.Queue[Frame] = queue.Queue()
    done = threading.Event()

    def capture() -> None:
        while (frame := camera.read()) is not None:
            fifo.put(frame)

    capturer = threading.Thread(target=capture, daemon=True)
    capturer.start()
    threading.Timer(seconds, done.set).start()
    samples, started = [], time.monotonic()
    while not done.is_set():
        try:
            frame = fifo.get(timeout=0.05)
        except queue.Empty:
            continue
        detector.detect(frame.image)
        samples.append((time.monotonic() - started, (time.monotonic() - frame.captured_at) * 1e3))
    camera.interrupt()
    capturer.join(2.0)
    return {**latency_summary(samples, camera._index, seconds), "queued_at_end": fifo.qsize()}


ROAD = ((120.0, 640.0), (1240.0, 640.0))  # bench.counts' line, on the 1280x720 frame
SMALL_ROAD = ((60.0, 320.0), (620.0, 320.0))  # ... and on its 640x360 moving boxes


class TimedObserver:
    """An observer's answers, and the ms each took."""

    def __init__(self, observer: CameraCounting) -> None:
        self.observer = observer
        self.ms: list[float] = []

    def update(self, frame: np.ndarray, detections, timestamp: float) -> object:
        began = time.perf_counter()
        answer = self.observer.update(frame, detections, timestamp)
        self.ms.append((time.perf_counter() - began) * 1e3)
        return answer


def road_counting(line: tuple) -> CameraCounting:
    """The counting observer of a camera with one line, its rows thrown away."""
    shape = CountingShape(1, "line", "road", line)
    return CameraCounting([shape], lambda rows: None, lambda: "bench")


def counting_cost(detector: OnnxDetector, path: Path, rounds: int) -> dict:
    """The player's fps without and with counting, alternating rounds, and the counting
    observer's ms per frame in the loop."""
    without, with_counting, in_loop = [], [], []
    for r in range(rounds):
        for counted in (False, True) if r % 2 == 0 else (True, False):
            observer = TimedObserver(road_counting(ROAD))
            fps = loop_every_frame(detector, path, {COUNTS: observer} if counted else None)
            (with_counting if counted else without).append(fps)
            in_loop += observer.ms
    return {
        "rounds": rounds,
        "player_fps_without": _round(without),
        "player_fps_with": _round(with_counting),
        "player_fps_without_median": round(float(np.median(without)), 2),
        "player_fps_with_median": round(float(np.median(with_counting)), 2),
        "with_over_without": round(float(np.median(with_counting) / np.median(without)), 3),
        "observer_ms_median_in_loop": round(float(np.median(in_loop)), 3),
        "ms_per_frame_at_20_boxes": cost_at_20_boxes(),
    }


def cost_at_20_boxes(frames: int = 3000) -> dict:
    """ms per frame (after 100) of the player's counting observer at 20 boxes, and of the
    bare `TrafficCounter` on the same boxes, frame by frame in turn."""
    observer = road_counting(SMALL_ROAD)
    bare = TrafficCounter([CountingLine("road", *SMALL_ROAD[0], *SMALL_ROAD[1])])
    ms: dict[str, list[float]] = {"CameraCounting (the player's)": [], "TrafficCounter alone": []}
    for i, dets in enumerate(moving_boxes(20, frames)):
        began = time.perf_counter()
        observer.update(None, dets, i / 10.0)
        middle = time.perf_counter()
        bare.update(dets, i / 10.0)
        ms["CameraCounting (the player's)"].append((middle - began) * 1e3)
        ms["TrafficCounter alone"].append((time.perf_counter() - middle) * 1e3)
    return {
        name: {
            "median": round(float(np.median(t[100:])), 3),
            "p95": round(float(np.percentile(t[100:], 95)), 3),
        }
        for name, t in ms.items()
    }


def _round(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


def environment() -> dict:
    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
    }


def print_table(results: dict) -> None:
    tp = results["throughput"]
    print(
        f"every-frame throughput, {tp['frames']} frames of 1280x720, {tp['rounds']} rounds "
        f"(median fps)"
    )
    print(f"  detector alone (frames in memory)   {tp['detector_fps_median']:8.2f}")
    print(f"  FrameLoop reading the file          {tp['loop_fps_median']:8.2f}")
    print(f"  loop / detector                     {tp['loop_over_detector']:8.3f}")
    live, fifo = results["live"], results["fifo_reference"]
    print(
        f"\nlive camera at {results['camera_fps']:.1f} fps for {results['live_seconds']:g} s "
        "(latency capture -> result, ms)"
    )
    print(
        f"  {'':24}{'results/s':>10}{'p50':>9}{'p95':>9}{'max':>9}{'1st third':>11}"
        f"{'last third':>11}"
    )
    for name, row in (("latest-frame-wins loop", live), ("FIFO queue (reference)", fifo)):
        print(
            f"  {name:<24}{row['results_per_s']:>10.1f}{row['latency_ms_p50']:>9.0f}"
            f"{row['latency_ms_p95']:>9.0f}{row['latency_ms_max']:>9.0f}"
            f"{row['latency_ms_first_third']:>11.0f}{row['latency_ms_last_third']:>11.0f}"
        )
    print(
        f"  dropped by the loop: {live['dropped']}; left in the FIFO at the end: "
        f"{fifo['queued_at_end']}"
    )
    print_counting(results["counting"])
    print(
        "\n"
        + "\n".join(
            f"{'PASS' if ok else 'MISS'}  {name}" for name, ok in results["targets"].items()
        )
    )


def print_counting(c: dict) -> None:
    print(f"\ntracking + counting, every-frame player on the same file, {c['rounds']} rounds")
    print(f"  player fps without counting (median)  {c['player_fps_without_median']:8.2f}")
    print(f"  player fps with counting (median)     {c['player_fps_with_median']:8.2f}")
    print(f"  with / without                        {c['with_over_without']:8.3f}")
    print(f"  counting observer in the loop, ms     {c['observer_ms_median_in_loop']:8.3f}")
    for name, ms in c["ms_per_frame_at_20_boxes"].items():
        print(f"  {name} at 20 boxes: median {ms['median']} ms, p95 {ms['p95']} ms")


def targets(results: dict) -> dict[str, bool]:
    live = results["live"]
    period_ms = 1000.0 / results["throughput"]["detector_fps_median"]
    return {
        "every-frame loop >= 0.95 x detector": results["throughput"]["loop_over_detector"] >= 0.95,
        "live latency p95 <= 3 detector periods": live["latency_ms_p95"] <= 3 * period_ms,
        "live latency does not grow (last third <= first third + 1 period)": live[
            "latency_ms_last_third"
        ]
        <= live["latency_ms_first_third"] + period_ms,
        "counting < 1 ms per frame at 20 boxes": results["counting"]["ms_per_frame_at_20_boxes"][
            "CameraCounting (the player's)"
        ]["median"]
        < 1.0,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=bundled_model_path(), help="ONNX model")
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames in the video file")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating timing rounds")
    parser.add_argument(
        "--seconds", type=float, default=LIVE_SECONDS, help="how long each live run lasts"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    detector = OnnxDetector(
        args.model, conf=settings.confidence, iou=settings.iou, threads=settings.inference_threads
    )
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "bench-1280x720.mp4"
        frames = render_video(video, args.frames)
        results: dict = {
            "environment": environment(),
            "model": str(args.model),
            "model_version": detector.version,
            "frame_size": list(SIZE),
            "inference_threads": settings.inference_threads,
        }
        results["throughput"] = throughput(detector, video, frames, args.rounds)
        results["counting"] = counting_cost(detector, video, args.rounds + 1)
    camera_fps = CAMERA_SPEEDUP * results["throughput"]["detector_fps_median"]
    results.update(camera_fps=round(camera_fps, 2), live_seconds=args.seconds)
    results["live"] = live_latest_frame_wins(detector, frames, camera_fps, args.seconds)
    results["fifo_reference"] = live_fifo_reference(detector, frames, camera_fps, args.seconds)
    results["targets"] = targets(results)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
