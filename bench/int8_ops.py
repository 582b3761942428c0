"""Where the traffic model's inference time goes, per ONNX Runtime operator, fp32 and int8.

    .venv/bin/python -m bench.int8_ops [--imgsz 320] [--runs 60] [--out bench/results/int8_ops.json]

ONNX Runtime's own profiler (one thread, the session options the player uses) on the
traffic model and its int8 copy, at the rectangular input a 16:9 frame gets; the kernel
time of each operator type per run, summed over its nodes, largest first. Says which part of
the graph keeps int8/fp32 above 0.5 on a given CPU. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.detector import environment, write_results
from bench.int8 import MODELS
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.letterbox import Letterbox
from tvdesk.core.detector.runtime_choice import cpu_name

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "int8_ops.json"
SHOWN = 10  # operator types printed per model


def operator_times(path: Path, input_hw: tuple[int, int], runs: int) -> dict:
    """{"ms_per_run", "ops": {op: {"ms", "nodes"}}} from ONNX Runtime's profile of `runs`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(Path("/tmp") / f"tvdesk-ops-{os.getpid()}-{path.stem}")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tensor = np.random.default_rng(0).random((1, 3, *input_hw), dtype=np.float32)
    name = session.get_inputs()[0].name
    for _ in range(runs + 1):  # the first run allocates: left out below
        session.run(None, {name: tensor})
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink()
    first = min((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    micros: Counter = Counter()
    nodes: Counter = Counter()
    for event in events:
        timed = event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
        if timed and event["ts"] >= first["ts"] + first["dur"]:
            op = event["args"].get("op_name", "?")
            micros[op] += event["dur"]
            nodes[op] += 1
    total = sum(micros.values())
    return {
        "ms_per_run": total / runs / 1e3,
        "ops": {
            op: {"ms": us / runs / 1e3, "share": us / total, "nodes": nodes[op] // runs}
            for op, us in micros.most_common()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    fp32 = MODELS / "tvdesk-traffic.onnx"
    input_hw = Letterbox.fit((720, 1280), (args.imgsz, args.imgsz), 32).input_hw
    results: dict = {
        "environment": environment() | {"cpu": cpu_name()},
        "load_average_at_start": os.getloadavg(),
        "input_hw": input_hw,
        "models": {},
    }
    for path in (fp32, int8_path(fp32)):
        figures = operator_times(path, input_hw, args.runs)
        results["models"][path.name] = figures
        print(f"{path.name}: {figures['ms_per_run']:.2f} ms a run at {input_hw[1]}x{input_hw[0]}")
        for op, row in list(figures["ops"].items())[:SHOWN]:
            print(f"  {op:<24}{row['ms']:7.2f} ms {row['share']:7.1%}  {row['nodes']:4d} nodes")
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
