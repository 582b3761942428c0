"""Which nodes of the traffic model must stay float in its int8 copy: measured.

    .venv/bin/python -m bench.int8_float_nodes [--out bench/results/int8_float_nodes.json]

The traffic model quantized as `make int8-models` does (64 real day frames, at 480), leaving in
float: nothing; the detection head's decode (what tvdesk ships); the decode and the last convs
of the box branch (`model.22.cv2.*.2`); the decode and the last convs of both branches. Each
copy's mAP50 on dawn_fog at 480 and 320 beside the fp32 model's (the gate's measure), and its
inference time against fp32 at 480, one thread, in alternating rounds on real frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

from bench.detector import real_frames, write_results
from bench.int8 import time_rounds
from tvdesk.config import project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.training import traffic_model
from tvdesk.training.int8 import gate
from tvdesk.training.int8_quantize import decode_tail, quantize

MODEL = project_root() / "resources" / "models" / "tvdesk-traffic.onnx"
SIZES = (480, 320)
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "int8_float_nodes.json"


def variants() -> dict[str, list[str]]:
    """Name -> the nodes kept in float."""
    nodes = onnx.load(str(MODEL)).graph.node
    tail = decode_tail(onnx.load(str(MODEL)))

    def last_convs(branch: str) -> list[str]:
        return [
            n.name
            for n in nodes
            if n.op_type == "Conv"
            and f"/{branch}." in n.name
            and n.name.rsplit("/", 2)[-2].endswith(".2")
        ]

    return {
        "nothing": [],
        "decode (shipped)": tail,
        "decode + box branch's last convs": tail + last_convs("cv2"),
        "decode + both branches' last convs": tail + last_convs("cv2") + last_convs("cv3"),
    }


def measure(name: str, keep_float: list[str], tensors: list, folder: Path) -> dict:
    int8 = folder / f"{len(keep_float)}.int8.onnx"
    quantize(MODEL, int8, tensors, keep_float=keep_float)
    map50 = gate(MODEL, int8, {"dawn_fog": traffic_model.EVAL_DATA}, SIZES, threads=2)[0]
    frames = real_frames((1280, 720))
    detectors = {p: OnnxDetector(p, imgsz=SIZES[0]) for p in (MODEL, int8)}
    methods = {}
    for label, detector in zip(("fp32", "int8"), detectors.values(), strict=True):
        prepared = {id(f): detector.prepare(f) for f in frames}
        methods[label] = lambda f, d=detector, t=prepared: d.run(t[id(f)])
    ms = {k: float(np.median(v)) for k, v in time_rounds(methods, frames).items()}
    return {
        "float_nodes": len(keep_float),
        "map50": map50,
        "fp32_ms": round(ms["fp32"], 2),
        "int8_ms": round(ms["int8"], 2),
        "int8_over_fp32": round(ms["int8"] / ms["fp32"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    calibration = traffic_model.calibration_set(traffic_model.VIDEOS)
    detector = OnnxDetector(MODEL, imgsz=SIZES[0])
    tensors = [detector.prepare(f) for f in calibration.frames]
    results: dict = {"load_average_at_start": os.getloadavg(), "variants": {}}
    print(
        f"{'kept in float':<38}{'nodes':>6}{'fog@480 fp32/int8':>20}{'fog@320 fp32/int8':>20}"
        f"{'int8/fp32 @480':>16}"
    )
    with tempfile.TemporaryDirectory(prefix="tvdesk-int8-") as tmp:
        for name, keep in variants().items():
            row = results["variants"][name] = measure(name, keep, tensors, Path(tmp))
            cells = [f"{m['fp32']:.4f}/{m['int8']:.4f}" for m in row["map50"].values()]
            print(
                f"{name:<38}{row['float_nodes']:>6}{cells[0]:>20}{cells[1]:>20}"
                f"{row['int8_over_fp32']:>16.3f}",
                flush=True,
            )
    results["load_average_at_end"] = os.getloadavg()
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
