"""A camera-paced stream through a DetectorSlot while models are hot-swapped: does it stall?

A camera thread delivers frames at a fixed rate (on an absolute schedule, as a camera does), a
frame thread detects each with `slot.current`, and a third thread swaps the model (the file
and a copy of it, alternately) at even intervals. The frame-to-frame interval of the results
shows any stall; every frame delivered must come out. "During swaps" are the frames that end
between a swap's start and two frame periods after it is done; a run with `swaps=0` is the
control that shows the machine's own jitter.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tvdesk.core.detector import DetectorSlot, OnnxDetector, SwapEvent


def hot_swap_stream(
    model: Path,
    frames: list[np.ndarray],
    count: int = 300,
    fps: float = 25.0,
    swaps: int = 10,
    threads: int = 1,
) -> dict:
    """Stream `count` frames at `fps`, swapping `swaps` times; interval and swap statistics."""
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-") as tmp:
        twin = Path(shutil.copy(model, Path(tmp) / f"{model.stem}-twin.onnx"))
        slot = DetectorSlot(OnnxDetector(model, threads=threads))
        slot.current.detect(frames[0])
        events: list[SwapEvent] = []
        slot.subscribe(events.append)
        delivered: queue.Queue = queue.Queue()
        results: list[tuple[int, float, float]] = []  # frame, captured at, detected at
        windows: list[tuple[float, float]] = []  # each swap's start and end

        def camera() -> None:
            start = time.perf_counter()
            for i in range(count):
                time.sleep(max(0.0, start + i / fps - time.perf_counter()))
                delivered.put((i, frames[i % len(frames)], time.perf_counter()))
            delivered.put(None)

        def frame_loop() -> None:
            while (item := delivered.get()) is not None:
                i, frame, captured = item
                slot.current.detect(frame)
                results.append((i, captured, time.perf_counter()))

        def swapper() -> None:
            period = count / fps / (swaps + 1)
            for k in range(swaps):
                time.sleep(period)
                began = time.perf_counter()
                slot.load_and_swap(twin if k % 2 == 0 else model)
                windows.append((began, time.perf_counter() + 2.0 / fps))

        workers = [threading.Thread(target=t) for t in (camera, frame_loop, swapper)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return _summary(results, events, windows, count, fps)


def _summary(
    results: list[tuple[int, float, float]],
    events: list[SwapEvent],
    windows: list[tuple[float, float]],
    count: int,
    fps: float,
) -> dict:
    done = np.array([r[2] for r in results])
    intervals = np.diff(done) * 1e3
    latency = np.array([r[2] - r[1] for r in results]) * 1e3
    median = float(np.median(intervals))
    in_swap = np.zeros(len(intervals), bool)
    for began, ended in windows:
        in_swap |= (done[1:] >= began) & (done[1:] <= ended)
    during = float(intervals[in_swap].max()) if in_swap.any() else None
    load = [e.load_ms for e in events if e.accepted]
    warm = [e.warmup_ms for e in events if e.accepted]
    opened = [e.open_ms for e in events if e.accepted]
    return {
        "frames_sent": count,
        "frames_detected": len(results),
        "frames_lost": count - len({r[0] for r in results}),
        "fps": fps,
        "swaps_done": sum(e.accepted for e in events),
        "interval_median_ms": round(median, 2),
        "interval_p95_ms": round(float(np.percentile(intervals, 95)), 2),
        "interval_max_ms": round(float(intervals.max()), 2),
        "max_over_median": round(float(intervals.max()) / median, 3),
        "interval_max_during_swaps_ms": round(during, 2) if during else None,
        "max_during_swaps_over_median": round(during / median, 3) if during else None,
        "latency_median_ms": round(float(np.median(latency)), 2),
        "latency_max_ms": round(float(latency.max()), 2),
        "swap_load_ms_median": round(float(np.median(load)), 1) if load else None,
        "swap_warmup_ms_median": round(float(np.median(warm)), 1) if warm else None,
        "swap_open_ms_median": round(float(np.median(opened)), 1) if opened else None,
        "swap_rejections": [e.reason for e in events if not e.accepted],
    }
