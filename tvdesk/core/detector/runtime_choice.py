"""Which file the player runs for a model version: `runtime_model`.

The int8 copy when it passed its gate at the input size the camera runs (`int8_copy`), the CPU
has the int8 dot-product instructions the copy was made for, and it measures faster here;
the fp32 model otherwise. Both are timed once per machine, model and input size, on a low
priority thread (like a swap's checks), in back-to-back pairs on a real-sized frame, and the
answer is kept in `runtime_choice.json` in the data folder, keyed by the CPU model, ONNX
Runtime's version, the threads, the input size and both files' checksums: a change of any of
them measures again. Where a camera opens from the GUI, the measurement must not hold the window
(about a second and a half): the fp32 model plays at once, and `when_measured` hears the choice.
"""

from __future__ import annotations

import functools
import json
import logging
import platform
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort

from tvdesk.core import atomic
from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector.int8_copy import gated_int8
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.core.detector.slot import low_priority_for_this_thread

logger = logging.getLogger(__name__)

CHOICES_FILE = "runtime_choice.json"
MAX_INT8_RATIO = 0.95  # int8 runs when it takes at most this share of fp32's time
FRAME_HW = (720, 1280)  # the frame size timed when the stream's is not known yet
PAIRS = 12  # fp32 and int8 inferences timed back to back (about 0.6 s at 480 on one thread)
# x86 CPU flags of an int8 dot product without saturation: the copy's uint8 x int8 products
# (ONNX Runtime's advice for CPUs without them is 7-bit weights, which the gate never saw).
INT8_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}
ARM = {"arm64", "aarch64"}
# Background timings in progress, by (data folder, choice key): who waits for each answer.
_timings: dict[tuple[str, str], list[Callable[[Path], None]]] = {}
_timing_lock = threading.Lock()


def runtime_model(
    version_path: Path,
    imgsz: int | None,
    data_dir: Path,
    *,
    threads: int = 1,
    frame_hw: tuple[int, int] | None = None,
    when_measured: Callable[[Path], None] | None = None,
) -> Path:
    """The file to run for the model `version_path` at input size `imgsz` (None: the model's
    own) with `threads` threads: its int8 copy or `version_path` itself. Blocks while a first
    measurement runs (about a second); call it off the frame thread. With `when_measured`, a
    first measurement runs in the background instead: `version_path` now, and the file chosen
    goes to `when_measured(path)` on the measuring thread once it is known."""
    int8, why = gated_int8(version_path, imgsz)
    if int8 is None:
        logger.debug("%s runs fp32: %s", version_path, why)
        return version_path
    ready, cpu = int8_cpu()
    if not ready:
        logger.info("%s runs fp32: this CPU (%s) has no int8 dot product instructions", int8, cpu)
        return version_path
    key = choice_key(cpu, version_path, int8, imgsz, threads)
    choices = read_choices(data_dir)
    choice = choices.get(key)
    if isinstance(choice, dict) and choice.get("choice") in ("int8", "fp32"):
        return _chosen(version_path, int8, choice)
    measuring = (version_path, int8, imgsz, threads, frame_hw or FRAME_HW)
    if when_measured is None:
        choice = measure_off_thread(*measuring)
        remember(data_dir, read_choices(data_dir) | {key: choice})
        return _chosen(version_path, int8, choice)

    with _timing_lock:
        waiting = _timings.get((str(data_dir), key))
        if waiting is not None:  # the same timing runs already: hear its answer too
            waiting.append(when_measured)
            return version_path
        _timings[(str(data_dir), key)] = [when_measured]

    def measure_then_tell() -> None:
        low_priority_for_this_thread()
        choice = measure_safely(*measuring)
        remember(data_dir, read_choices(data_dir) | {key: choice})
        with _timing_lock:
            listeners = _timings.pop((str(data_dir), key))
        chosen = _chosen(version_path, int8, choice)
        for listener in listeners:
            try:
                listener(chosen)
            except Exception:  # one listener's failure is not the others'
                logger.exception("acting on the int8 choice for %s failed", version_path)

    logger.info("%s runs fp32 while its int8 copy is timed against it", version_path)
    # Not a daemon: a process ending while ONNX Runtime runs on a daemon thread aborts
    # ("terminate called without an active exception"); exit waits for the timing instead.
    threading.Thread(target=measure_then_tell, name="tvdesk-int8-timing").start()
    return version_path


def _chosen(version_path: Path, int8: Path, choice: dict) -> Path:
    logger.info(
        "%s runs %s on this CPU (int8 %.1f ms, fp32 %.1f ms a frame)",
        version_path,
        choice["choice"],
        choice.get("int8_ms", float("nan")),
        choice.get("fp32_ms", float("nan")),
    )
    return int8 if choice["choice"] == "int8" else version_path


def int8_cpu() -> tuple[bool, str]:
    """(whether this CPU runs the int8 copies as gated, its model name)."""
    name = cpu_name()
    if platform.machine().lower() in ARM:
        return True, name
    return bool(_cpu_flags() & INT8_FLAGS), name


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` says."""
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def choice_key(cpu: str, fp32: Path, int8: Path, imgsz: int | None, threads: int) -> str:
    return " | ".join(
        (
            cpu,
            f"onnxruntime {ort.__version__}",
            f"{threads} threads",
            f"imgsz {imgsz or 'default'}",
            f"fp32 {sha256_of(fp32)[:16]}",
            f"int8 {sha256_of(int8)[:16]}",
        )
    )


def read_choices(data_dir: Path) -> dict[str, dict]:
    """The remembered choices; an unreadable file counts as none (it is rewritten)."""
    path = data_dir / CHOICES_FILE
    try:
        choices = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("%s is unreadable (%s); measuring again", path, exc)
        return {}
    return choices if isinstance(choices, dict) else {}


def remember(data_dir: Path, choices: dict[str, dict]) -> None:
    """Keep `choices` in the data folder; one that cannot be written is measured again next
    time (a warning), never a failed start or swap."""
    path = data_dir / CHOICES_FILE
    try:
        atomic.write_text(path, json.dumps(choices, indent=2) + "\n")
    except OSError as exc:
        logger.warning("cannot write %s (%s): the model will be timed again next time", path, exc)


def measure_off_thread(
    fp32: Path, int8: Path, imgsz: int | None, threads: int, frame_hw: tuple[int, int]
) -> dict:
    """`measure_safely` on a thread of low priority (it yields to a playing stream's frames)."""
    outcome: list[dict] = []

    def run() -> None:
        low_priority_for_this_thread()
        outcome.append(measure_safely(fp32, int8, imgsz, threads, frame_hw))

    worker = threading.Thread(target=run, name="tvdesk-int8-timing")
    worker.start()
    worker.join()
    return outcome[0]


def measure_safely(
    fp32: Path, int8: Path, imgsz: int | None, threads: int, frame_hw: tuple[int, int]
) -> dict:
    """`measure`; an int8 copy that does not load or run here means fp32."""
    try:
        return measure(fp32, int8, imgsz, threads, frame_hw)
    except Exception as exc:  # any failure: the fp32 model runs, the log says why
        logger.warning("%s cannot run here, the fp32 model runs: %s", int8, exc)
        return {"choice": "fp32", "imgsz": imgsz, "reason": str(exc)}


def measure(
    fp32: Path, int8: Path, imgsz: int | None, threads: int, frame_hw: tuple[int, int]
) -> dict:
    """Both models' inference timed in `PAIRS` adjacent pairs (the order alternating), and the
    choice by the median of the pairs' int8/fp32 ratios: each pair sees the same machine load,
    so a busy machine slows both alike instead of tipping the choice."""
    detectors = [OnnxDetector(path, imgsz=imgsz, threads=threads) for path in (fp32, int8)]
    frame = np.random.default_rng(0).integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    tensors = [d.prepare(frame) for d in detectors]
    for detector, tensor in zip(detectors, tensors, strict=True):
        detector.run(tensor)  # the first run allocates the session's buffers
    times = np.array([_timed_pair(detectors, tensors, i % 2 == 1) for i in range(PAIRS)])
    ratio = float(np.median(times[:, 1] / times[:, 0]))
    return {
        "choice": "int8" if ratio <= MAX_INT8_RATIO else "fp32",
        "imgsz": imgsz,
        "fp32_ms": round(float(np.median(times[:, 0])), 2),
        "int8_ms": round(float(np.median(times[:, 1])), 2),
        "ratio": round(ratio, 3),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _timed_pair(
    detectors: list[OnnxDetector], tensors: list[np.ndarray], reverse: bool
) -> tuple[float, float]:
    """(fp32 ms, int8 ms) of one inference each, run one right after the other."""
    ms = [0.0, 0.0]
    for i in (1, 0) if reverse else (0, 1):
        began = time.perf_counter()
        detectors[i].run(tensors[i])
        ms[i] = (time.perf_counter() - began) * 1e3
    return ms[0], ms[1]


def _cpu_flags() -> set[str]:
    for line in _cpuinfo_lines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return _numpy_cpu_flags()


def _numpy_cpu_flags() -> set[str]:
    """The CPU's VNNI support as numpy detected it (where there is no /proc/cpuinfo)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        return set()
    return {"avx512_vnni"} if features.get("AVX512VNNI") else set()


@functools.cache
def _cpuinfo_lines() -> tuple[str, ...]:
    try:
        return tuple(Path("/proc/cpuinfo").read_text().splitlines())
    except OSError:
        return ()
