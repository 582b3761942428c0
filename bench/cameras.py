"""Many cameras on this CPU: detected frames per second per camera, fairness, latency over
time, CPU and memory, with and without a retraining job beside them.

    .venv/bin/python -m bench.cameras [--counts 1,4,9,16] [--seconds 60] [--soak 600]
        [--with-job] [--batch] [--out bench/results/cameras.json]

Cameras are the real clips of `../shared/realdata/videos`, looped at their own frame rate,
and the synthetic camera, all on the traffic model at 320 px and one inference thread,
detecting through one `DetectionEngine`. For each count: each camera's detected frames/s,
the spread between cameras ((max - min) / mean), its capture-to-result latency in the first
and last third of the run (a backlog would grow), the process's CPU use and resident memory.
Throughput: the cameras decoding every frame as fast as they can, the sum of their detected
frames/s against one camera alone (how close the engine gets to the detector's own rate).
With `--batch`, only the throughput runs, each count played with one frame per inference call
(`max_batch` 1) and with frames of the cameras on the same model stacked into one call
(`max_batch` 4), back to back in alternating order: the aggregate detected frames/s of the
two, and how many frames the calls held. With `--gui S`, a 2x2 wall of the same cameras in
the main window (offscreen Qt) for S seconds: the event loop's lateness (p50, p99 of a 20 ms
timer) and each tile's frame rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from tvdesk.config import load_settings, project_root, traffic_model_path
from tvdesk.core.session.engine import MAX_BATCH, DetectionEngine
from tvdesk.core.session.frame_loop import FrameResult
from tvdesk.core.session.start import start_session
from tvdesk.core.sources import open_source

CLIPS = project_root().parent / "shared" / "realdata" / "videos"
RESULTS = project_root() / "bench" / "results"
IMGSZ = 320


class Latency:
    """A frame consumer: (wall time, latency ms) of each result."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []

    def __call__(self, result: FrameResult) -> None:
        self.samples.append((time.monotonic(), result.stats.latency_ms))

    def thirds(self) -> tuple[float, float]:
        """Median latency in the first and the last third of the run."""
        n = len(self.samples)
        if n < 6:
            return float("nan"), float("nan")
        first = [ms for _, ms in self.samples[: n // 3]]
        last = [ms for _, ms in self.samples[-n // 3 :]]
        return statistics.median(first), statistics.median(last)


def specs(count: int, home: Path) -> list[str]:
    """`count` sources: the real clips, the synthetic camera, then the clips again. A source
    is one camera, so a clip's later turns are copies of it in `home`."""
    clips = sorted(p for p in CLIPS.iterdir() if p.suffix in {".mp4", ".avi"})
    sources = []
    for i in range(count):
        if i == len(clips):
            sources.append("synthetic:day")
            continue
        turn, place = divmod(i if i < len(clips) else i - 1, len(clips))
        clip = clips[place]
        if turn:
            copy = home / "clips" / f"{clip.stem}-{turn + 1}{clip.suffix}"
            if not copy.exists():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, copy)
            clip = copy
        sources.append(str(clip))
    return sources


def play(
    count: int, seconds: float, every_frame: bool, home: Path, max_batch: int = MAX_BATCH
) -> dict:
    """Play `count` cameras for `seconds`; per-camera rates, fairness, latency, CPU, memory."""
    settings = replace(load_settings(), data_dir=home, traffic_imgsz=IMGSZ, inference_threads=1)
    engine = DetectionEngine(max_batch=max_batch)
    rss_before = _rss_mb()
    cpu_before = time.process_time()
    plays = []
    for number, spec in enumerate(specs(count, home)):
        source = open_source(spec, loop=True, paced=not every_frame)
        name = f"camera {number + 1}"
        session = start_session(settings, source.info, camera=name, engine=engine)
        latency = Latency()
        loop = session.play(source, consumers=[latency], every_frame=every_frame, camera=name)
        plays.append((session, loop, latency))
    started = time.monotonic()
    for _, loop, _ in plays:
        loop.start()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu = (time.process_time() - cpu_before) / elapsed
    rss_playing = _rss_mb()
    rates, thirds = [], []
    for session, loop, latency in plays:
        loop.stop()
        loop.wait(30)
        rates.append(len(latency.samples) / elapsed)
        thirds.append(latency.thirds())
        session.close()
    mean = statistics.fmean(rates)
    return {
        "cameras": count,
        "every_frame": every_frame,
        "seconds": round(elapsed, 1),
        "detected_fps": [round(r, 2) for r in rates],
        "mean_fps": round(mean, 2),
        "aggregate_fps": round(sum(rates), 2),
        "spread": round((max(rates) - min(rates)) / mean, 3) if mean else None,
        "latency_first_third_ms": [round(a, 1) for a, _ in thirds],
        "latency_last_third_ms": [round(b, 1) for _, b in thirds],
        "cpu_cores": round(cpu, 2),
        "rss_mb": round(rss_playing, 1),
        "rss_per_camera_mb": round((rss_playing - rss_before) / count, 1),
        "max_batch": max_batch,
        "frames_per_call": {str(k): v for k, v in sorted(engine.batches.items())},
    }


def gui(count: int, seconds: float, home: Path) -> dict:
    """A wall of `count` cameras in the main window (offscreen Qt): the event loop's lateness
    (a 20 ms timer) while every tile paints, and each tile's detected rate."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from bench.event_loop import LatenessProbe
    from tvdesk.ui.app import build_window, close_window

    app = QApplication.instance() or QApplication([])
    settings = replace(load_settings(), data_dir=home, traffic_imgsz=IMGSZ, inference_threads=1)
    first, *rest = specs(count, home)
    source = open_source(first, loop=True)
    window = build_window(settings, None, source.info)
    window.resize(1280, 800)
    window.show()
    window.player.play(source)
    for spec in rest:
        window.wall_view.add_camera(spec)
    window.wall_view.show_wall()
    probe = LatenessProbe()
    counters = [[0] for _ in window.wall_view.wall.tiles]
    for tile, counter in zip(window.wall_view.wall.tiles, counters, strict=True):
        tile.camera.player.result_ready.connect(lambda _r, n=counter: n.append(0))
    QTimer.singleShot(5000, probe.start)  # after the cameras' start-up
    QTimer.singleShot(int((seconds + 5) * 1000), app.quit)
    app.exec()
    probe.stop()
    close_window(window)
    shown = [(len(n) - 1) / (seconds + 5) for n in counters]
    return {
        "gui_cameras": count,
        "seconds": seconds,
        "lateness_p50_ms": round(probe.percentile(50), 1),
        "lateness_p99_ms": round(probe.percentile(99), 1),
        "tile_fps": [round(f, 2) for f in shown],
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_beside(minutes: float) -> subprocess.Popen:
    """A retraining's fine-tune in another process, as a local worker runs it (nice 10, one
    torch thread) on the synthetic base data."""
    code = (
        "from pathlib import Path\n"
        "from tvdesk.training.trainer import TrainParams, train\n"
        f"p = TrainParams(start_from={str(traffic_model_path().with_suffix('.pt'))!r}, "
        f"epochs=100, minutes={minutes}, rect=True, imgsz=320, batch=8, nominal_batch=8, "
        "workers=1, threads=1, optimizer='AdamW', lr0=0.0005, warmup_epochs=0)\n"
        f"train(Path({str(project_root() / 'data' / 'base' / 'data.yaml')!r}), "
        "Path('/tmp/tvdesk-bench-cameras-train'), p)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        preexec_fn=lambda: os.nice(10),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1,4,9,16")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--soak", type=float, default=600.0, help="4 cameras this long")
    parser.add_argument("--with-job", action="store_true")
    parser.add_argument("--gui", type=float, default=60.0, help="seconds of a 2x2 wall (0: no)")
    parser.add_argument("--batch", action="store_true", help="one frame a call against stacked")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not CLIPS.is_dir():
        sys.exit(f"{CLIPS} is missing: the benchmark needs ../shared/realdata")
    home = Path(f"/tmp/tvdesk-bench-cameras-{os.getpid()}")
    counts = [int(c) for c in args.counts.split(",")]
    if args.batch:
        return batching(counts, args.seconds, home, args.out or RESULTS / "cameras-batch.json")
    args.out = args.out or RESULTS / "cameras.json"
    result: dict = {"cpu": os.uname().machine, "load_at_start": os.getloadavg()[0], "runs": []}
    jobs = [False, True] if args.with_job else [False]
    for job in jobs:
        trainer = training_beside(60.0) if job else None
        try:
            if trainer is not None:
                time.sleep(20.0)  # the fine-tune is past its set-up and training
            for count in counts:
                for every_frame in (False, True):
                    run = play(count, args.seconds, every_frame, home) | {"job_beside": job}
                    result["runs"].append(run)
                    print(_row(run), flush=True)
            if args.soak and not job:
                run = play(4, args.soak, False, home) | {"job_beside": job, "soak": True}
                result["runs"].append(run)
                print(_row(run), flush=True)
        finally:
            if trainer is not None:
                trainer.terminate()
                trainer.wait(30)
    if args.gui:
        result["gui"] = gui(4, args.gui, home)
        print(f"GUI, 2x2 wall: {result['gui']}", flush=True)
    single = next(r for r in result["runs"] if r["cameras"] == 1 and r["every_frame"])
    for run in result["runs"]:
        if run["every_frame"]:
            run["aggregate_over_one"] = round(run["aggregate_fps"] / single["aggregate_fps"], 3)
    result["load_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def batching(counts: list[int], seconds: float, home: Path, out: Path) -> int:
    """Each count of cameras decoding every frame, with max_batch 1 and MAX_BATCH back to back
    (the order alternating between counts): the aggregate detected frames/s of both."""
    result: dict = {"cpu": os.uname().machine, "load_at_start": os.getloadavg()[0], "runs": []}
    for number, count in enumerate(counts):
        sizes = (1, MAX_BATCH) if number % 2 == 0 else (MAX_BATCH, 1)
        runs = {
            size: play(count, seconds, True, home, max_batch=size) | {"job_beside": False}
            for size in sizes
        }
        for size in sizes:
            result["runs"].append(runs[size])
            print(_row(runs[size]), f"max_batch {size}: calls {runs[size]['frames_per_call']}")
        ratio = runs[MAX_BATCH]["aggregate_fps"] / runs[1]["aggregate_fps"]
        result.setdefault("stacked_over_single", {})[str(count)] = round(ratio, 3)
        print(f"{count} cameras: aggregate stacked / one frame a call = {ratio:.3f}", flush=True)
    result["load_at_end"] = os.getloadavg()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _row(run: dict) -> str:
    mode = "every frame" if run["every_frame"] else "paced"
    return (
        f"{run['cameras']:>2} cameras {mode:>11}{' + job' if run['job_beside'] else ''}"
        f"{' soak' if run.get('soak') else ''}: {run['mean_fps']:6.2f} fps each "
        f"(aggregate {run['aggregate_fps']:6.2f}, spread {run['spread']}), latency "
        f"{statistics.fmean(run['latency_first_third_ms']):.0f} -> "
        f"{statistics.fmean(run['latency_last_third_ms']):.0f} ms, CPU {run['cpu_cores']} cores, "
        f"{run['rss_per_camera_mb']} MB a camera"
    )


if __name__ == "__main__":
    sys.exit(main())
