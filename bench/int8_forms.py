"""Two exact rewrites of the traffic model's ONNX graph, timed: is int8/fp32 <= 0.5 in reach?

    .venv/bin/python -m bench.int8_forms [--imgsz 320] [--models DIR] [--out F]

Both rewrites leave every output the same to the bit (checked here on the same input):

- **GEMM form of the int8 copy**: its int8 conv weights, stored symmetric in [-127, 127] with
  zero point 0, stored as (weight - 1) with zero point -1. ONNX Runtime runs a QLinearConv with
  a zero weight zero point through its direct symmetric convolution kernels and any other
  through im2col and its integer GEMM kernels (VNNI for both on a CPU that has it).
- **DFL softmax on the last axis** (`tvdesk.training.onnx_graph.last_axis_dfl`, which every
  export now gets): timed here where the files in `--models` do not have it yet (the bundled
  models before 2026-12-07).

Times ONNX Runtime's `session.run` (one thread, the player's setting) on a prepared tensor for
the fp32 model, the int8 copy and the rewritten forms, in `bench.int8`'s rotating rounds (120
calls each, 6 a round, each block after an untimed call); prints a table and writes JSON. Needs
the `train` extra (onnx).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.detector import environment, write_results
from bench.int8 import MODELS, ROUND, RUNS, time_rounds
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.detector.letterbox import Letterbox
from tvdesk.core.detector.onnx_model import open_session
from tvdesk.core.detector.runtime_choice import cpu_name
from tvdesk.training.onnx_graph import last_axis_dfl

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "int8_forms.json"


def gemm_form(model) -> int:
    """Store each symmetric int8 conv weight as (weight - 1) with zero point -1, in place;
    returns how many weights changed. Exact: (w - 1) - (-1) == w for w in [-127, 127]."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    changed = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        weight = numpy_helper.to_array(inits[node.input[0]])
        if weight.dtype != np.int8 or weight.ndim != 4:
            continue
        zero_point = numpy_helper.to_array(inits[node.input[2]])
        if zero_point.any() or weight.min() < -127:
            raise ValueError(f"{node.input[0]}: not symmetric in [-127, 127]")
        shifted = (weight.astype(np.int16) - 1).astype(np.int8)
        inits[node.input[0]].CopyFrom(numpy_helper.from_array(shifted, node.input[0]))
        offset = np.full_like(zero_point, -1)
        inits[node.input[2]].CopyFrom(numpy_helper.from_array(offset, node.input[2]))
        changed += 1
    return changed


def write_forms(models: Path, folder: Path) -> dict[str, Path]:
    """The traffic model and its int8 copy in `models`, and their rewritten forms, as files:
    the DFL rewrite where the files do not have it yet, the GEMM form of the int8 copy."""
    import onnx

    fp32 = models / "tvdesk-traffic.onnx"
    forms = {"fp32": fp32, "int8": int8_path(fp32)}
    dfl_applies = last_axis_dfl(onnx.load(str(fp32)))
    rewrites = {"int8, GEMM form": (int8_path(fp32), True, False)}
    if dfl_applies:
        rewrites = {
            "fp32, DFL last axis": (fp32, False, True),
            "int8, DFL last axis": (int8_path(fp32), False, True),
            "int8, GEMM form": (int8_path(fp32), True, False),
            "int8, GEMM form, DFL last axis": (int8_path(fp32), True, True),
        }
    for number, (name, (source, gemm, dfl)) in enumerate(rewrites.items()):
        model = onnx.load(str(source))
        if gemm:
            gemm_form(model)
        if dfl:
            last_axis_dfl(model)
        forms[name] = folder / f"form-{number}.onnx"
        onnx.save(model, str(forms[name]))
    return forms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument(
        "--models", type=Path, default=MODELS, help="folder of tvdesk-traffic.onnx and its copy"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    input_hw = Letterbox.fit((720, 1280), (args.imgsz, args.imgsz), 32).input_hw
    tensor = np.random.default_rng(0).random((1, 3, *input_hw), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        forms = write_forms(args.models, Path(folder))
        sessions = {
            name: open_session(path, 1, ["CPUExecutionProvider"]) for name, path in forms.items()
        }
        runs = {
            name: (lambda x, s=s: s.run(None, {s.get_inputs()[0].name: x})[0])
            for name, s in sessions.items()
        }
        outputs = {name: run(tensor) for name, run in runs.items()}
        ms = {name: float(np.median(t)) for name, t in time_rounds(runs, [tensor]).items()}
    fastest_fp32 = min(v for name, v in ms.items() if name.startswith("fp32"))
    rows = []
    print(f"traffic model at {input_hw[1]}x{input_hw[0]}, one thread, {cpu_name()}")
    print(f"{'form':<34}{'ms':>7}{'/ fp32':>8}{'/ fastest fp32':>15}  same output as")
    for name, value in ms.items():
        reference = "int8" if name.startswith("int8") else "fp32"
        same = bool(np.array_equal(outputs[name], outputs[reference]))
        row = {
            "form": name,
            "ms": value,
            "over_fp32": value / ms["fp32"],
            "over_fastest_fp32": value / fastest_fp32,
            "same_output_as": reference if same else None,
        }
        rows.append(row)
        print(
            f"{name:<34}{value:7.2f}{row['over_fp32']:8.3f}{row['over_fastest_fp32']:15.3f}"
            f"  {reference if same else 'DIFFERENT from ' + reference}"
        )
    results = {
        "environment": environment() | {"cpu": cpu_name()},
        "load_average_at_start": os.getloadavg(),
        "models": str(args.models),
        "input_hw": input_hw,
        "calls_per_form": RUNS,
        "calls_per_round": ROUND,
        "forms": rows,
    }
    write_results(args.out, results)
    return 0 if all(r["same_output_as"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
