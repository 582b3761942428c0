"""Where the true vehicles of real fog fall in the teacher's score bands.

    .venv/bin/python -m bench.teacher_bands [--model PATH] [--out PATH]

For every box of `dawn_fog`'s ground truth: the best fused score of a teacher box on it (IoU
0.5, any class). A band's share of the true boxes is what labels from it would add; its boxes
on no true box are what they would add wrongly. The kept band (keep_score up) becomes labels;
the band below it down to `hide_score` is hidden in the training image instead of left as
road (`LabelledImage.hidden`). Prints a table and writes bench/results/teacher_bands.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from bench.teacher_accuracy import DATA_YAML, DEFAULT_MODEL, machine
from tvdesk.config import project_root
from tvdesk.core.detector.detections import box_iou
from tvdesk.retrain.teacher import TRAFFIC_CLASSES, EnsembleTeacher, TeacherSettings
from tvdesk.training.accuracy import LabelledFolder

EDGES = (1.0, 0.55, 0.40, 0.25, 0.10, 0.05, 0.0)  # band edges, high to low
MATCH_IOU = 0.5
DEFAULT_OUT = project_root() / "bench" / "results" / "teacher_bands.json"


def true_boxes(data: LabelledFolder, image: Path, width: int, height: int) -> np.ndarray:
    """The traffic-class ground truth of `image` as pixel xyxy."""
    wanted = {i for i, name in enumerate(data.names) if name in TRAFFIC_CLASSES}
    label = data.labels_dir / f"{image.stem}.txt"
    rows = [line.split() for line in label.read_text().splitlines()] if label.exists() else []
    cxcywh = np.array([[float(v) for v in r[1:5]] for r in rows if int(r[0]) in wanted])
    cxcywh = cxcywh.reshape(-1, 4) * np.array([width, height, width, height])
    centre, size = cxcywh[:, :2], cxcywh[:, 2:]
    return np.hstack([centre - size / 2, centre + size / 2])


def band_counts(truth: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> dict[str, list]:
    """Per band (high to low): true boxes whose best teacher score falls in it, teacher boxes
    in it, and those of them on no true box."""
    bands = len(EDGES) - 1
    covered, found, wrong = [0] * bands, [0] * bands, [0] * bands
    overlap = box_iou(truth, boxes) >= MATCH_IOU if len(truth) and len(boxes) else None
    best = (
        np.where(overlap, scores[None, :], -1.0).max(axis=1)
        if overlap is not None
        else np.full(len(truth), -1.0)
    )
    for b in range(bands):
        high, low = EDGES[b] + (1e-9 if b == 0 else 0.0), EDGES[b + 1]
        covered[b] = int(((best >= low) & (best < high)).sum())
        in_band = (scores >= low) & (scores < high)
        found[b] = int(in_band.sum())
        on_truth = overlap[:, in_band].any(axis=0) if overlap is not None else np.zeros(0, bool)
        wrong[b] = found[b] - int(on_truth.sum())
    return {"covered": covered, "boxes": found, "on_no_truth": wrong}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.model.is_file() or not DATA_YAML.is_file():
        raise SystemExit(f"needs {args.model} and {DATA_YAML} (the shared real data)")
    data = LabelledFolder.from_yaml(DATA_YAML)
    teacher = EnsembleTeacher(args.model, TeacherSettings())
    began = time.time()
    totals = {"covered": [0] * (len(EDGES) - 1), "boxes": [0] * (len(EDGES) - 1)}
    totals["on_no_truth"] = [0] * (len(EDGES) - 1)
    truths = 0
    for path in data.images:
        image = cv2.imread(str(path))
        truth = true_boxes(data, path, image.shape[1], image.shape[0])
        fused = teacher.boxes(image)
        counts = band_counts(truth, fused.xyxy, fused.scores)
        truths += len(truth)
        for key, values in counts.items():
            totals[key] = [a + b for a, b in zip(totals[key], values, strict=True)]
    missed = truths - sum(totals["covered"])
    print(f"\n{len(data.images)} fog images, {truths} true boxes; teacher {args.model.name}")
    print(f"{'score band':14s} {'true boxes':>11s} {'share':>6s} {'boxes':>7s} {'on none':>8s}")
    bands = []
    for b in range(len(EDGES) - 1):
        name = f"{EDGES[b + 1]:.2f}-{EDGES[b]:.2f}"
        share = totals["covered"][b] / max(truths, 1)
        bands.append(
            {"band": name, "share": round(share, 3)} | {k: v[b] for k, v in totals.items()}
        )
        print(
            f"{name:14s} {totals['covered'][b]:11d} {share:6.1%} {totals['boxes'][b]:7d} "
            f"{totals['on_no_truth'][b]:8d}"
        )
    print(f"{'no box':14s} {missed:11d} {missed / max(truths, 1):6.1%}")
    result = {
        "model": str(args.model),
        "data": str(DATA_YAML),
        "images": len(data.images),
        "true_boxes": truths,
        "match_iou": MATCH_IOU,
        "teacher_settings": asdict(TeacherSettings()),
        "bands": bands,
        "no_box": missed,
        "machine": machine(),
        "seconds": round(time.time() - began, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
