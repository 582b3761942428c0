"""The retraining demo, measured: synthetic day -> night, oracle labels, default settings.

    .venv/bin/python bench/retrain_demo.py [--home DIR] [--out bench/results/retrain_demo.json]

1. Plays the synthetic day-night scenario (10 fps, 190 s) through the frame loop with the
   bundled model into a capture buffer, and pins a drift event on the night frames (from the
   start of the dusk fade; the drift monitor's own alarm is not part of this measurement).
2. Renders the base dataset into the app data folder (once per installation; timed apart).
3. Queues a retraining with `RetrainSettings()` defaults and a local worker process started
   as the app starts it (niced, torch on one thread), and times it from queueing to the end.
4. Measures the promoted model on the day and night evaluation sets of `make model`
   (build/eval/{day,night}, 200 val images each) with Ultralytics' val; the bundled model's
   figures on the same sets come from its card (measured the same way by `make model`).

Targets (issue 6): promoted night mAP50 >= 0.9 x bundled day mAP50; day drop <= 0.03;
pipeline <= 10 min on this 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tvdesk.config import RetrainSettings, bundled_model_path, project_root
from tvdesk.core.capture import CaptureBuffer
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.drift_event import DriftEvent
from tvdesk.core.pipeline import FrameLoop
from tvdesk.core.registry import Registry, pt_path
from tvdesk.core.retrain.context import request_retrain
from tvdesk.core.sources import SyntheticSource
from tvdesk.core.store import Store
from tvdesk.core.synth.camera import scenario

FPS = 10.0
EVAL = project_root() / "build" / "eval"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "retrain_demo.json"


def capture(home: Path, store: Store, model: Path) -> DriftEvent:
    source = SyntheticSource("day-night", fps=FPS, paced=False)
    buffer = CaptureBuffer(home / "capture" / "demo")
    loop = FrameLoop(
        source, DetectorSlot(OnnxDetector(model)), consumers=[buffer], every_frame=True
    )
    loop.start()
    outcome = loop.wait()
    buffer.flush(60.0)
    buffer.close()
    onset = scenario("day-night").onset_of("night")
    frames = tuple(range(round(onset * FPS), outcome.frames))
    event = store.drift_events.save(
        DriftEvent(onset, {"luma_mean": -10.0}, 5.0, frames, summary="night (demo event)")
    )
    buffer = CaptureBuffer(home / "capture" / "demo")
    buffer.pin(event)
    buffer.close()
    print(
        f"captured {outcome.frames} frames ({buffer.dropped} dropped); event on "
        f"{len(frames)} night frames",
        flush=True,
    )
    return event


def measure(weights: Path, imgsz: int) -> dict[str, float]:
    from tvdesk.training.evaluation import evaluate

    return {c: evaluate(weights, EVAL / c / "data.yaml", imgsz)["map50"] for c in ("day", "night")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="tvdesk-demo-"))
    os.environ["TVDESK_HOME"] = str(home)
    from jobs.queue import open_queue
    from jobs.worker import start_local_worker
    from tvdesk.core.dataset import app_base_dataset

    settings = RetrainSettings()
    with Store() as store:
        registry = Registry(store, home)
        bundled = registry.active(bundled_model_path())
        t0 = time.monotonic()
        event = capture(home, store, bundled.path)
        capture_s = time.monotonic() - t0
        t0 = time.monotonic()
        app_base_dataset(home)
        base_s = time.monotonic() - t0
        job = request_retrain(store, event, home / "capture" / "demo", settings)
        worker = start_local_worker(home)
        started = time.monotonic()
        open_queue(home).submit_retrain(job.id)
        while not (job := store.jobs.get(job.id)).state.finished:
            time.sleep(1.0)
        pipeline_s = time.monotonic() - started
        worker.terminate()
        worker.wait(30)
        print(f"job {job.state}: {job.message}", flush=True)
        stages = job.result
        promoted = registry.active()
    card = bundled.metrics  # the bundled model's card: measured by `make model` on these sets
    if {"day", "night"} <= set(card):
        before = {c: card[c]["map50"] for c in ("day", "night")}
    else:
        before = measure(pt_path(bundled), settings.imgsz)
    after = measure(pt_path(promoted), settings.imgsz) if promoted.id != bundled.id else None
    result = {
        "settings": settings.as_dict(),
        "home": str(home),
        "job_state": str(job.state),
        "job_message": job.message,
        "capture_seconds": round(capture_s, 1),
        "base_render_seconds": round(base_s, 1),
        "pipeline_seconds": round(pipeline_s, 1),
        "selected": stages.get("selected"),
        "boxes": stages.get("boxes"),
        "epochs_run": stages.get("epochs_run"),
        "train_seconds": stages.get("train_seconds"),
        "job_metrics": stages.get("metrics"),
        "bundled": before,
        "promoted": after,
    }
    if after:
        result["night_vs_bundled_day"] = round(after["night"] / before["day"], 3)
        result["day_drop"] = round(before["day"] - after["day"], 3)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
