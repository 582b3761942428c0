"""Measure the rebuilt traffic model on a labelled set and write its card.

The card's figures are the player's: our `OnnxDetector` on the ONNX file at Ultralytics'
validation thresholds, classes matched by name (the set may use COCO-80 ids). Beside them, as
references: Ultralytics' predict on the `.pt` through the same matching (the same arithmetic,
so the two must agree), Ultralytics' own `val` of the `.pt` (multi-label NMS, batched
letterbox: a little higher), and the int8 source export through our detector.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.training.accuracy import VAL_CONF, VAL_IOU, Detect, LabelledFolder, measure
from tvdesk.training.card import build_card
from tvdesk.training.offline import ultralytics_offline

logger = logging.getLogger(__name__)


def onnx_detect(path: Path, imgsz: int, threads: int) -> tuple[Detect, list[str]]:
    """Our detector on `path` at `imgsz`, thresholds as Ultralytics validates."""
    detector = OnnxDetector(path, conf=VAL_CONF, iou=VAL_IOU, threads=threads, imgsz=imgsz)
    return detector.detect, detector.names


def ultralytics_detect(weights: Path, imgsz: int) -> tuple[Detect, list[str]]:
    """Ultralytics' predict on `weights` (single-label NMS, minimal-rectangle letterbox)."""
    yolo = ultralytics_offline().YOLO(str(weights), task="detect")
    names = [yolo.names[i] for i in sorted(yolo.names)]

    def detect(image: np.ndarray) -> Detections:
        boxes = yolo.predict(
            image, imgsz=imgsz, conf=VAL_CONF, iou=VAL_IOU, verbose=False, device="cpu"
        )[0].boxes
        return Detections(
            boxes.xyxy.numpy(), boxes.conf.numpy(), boxes.cls.numpy().astype(np.int64), names
        )

    return detect, names


def accuracy_of(
    detect: Detect, names: Sequence[str], data: LabelledFolder, classes: Sequence[str]
) -> dict:
    """`measure` as a card entry (rounded)."""
    return measure(detect, names, data, classes=classes).as_dict()


def ultralytics_val(
    weights: Path, data: LabelledFolder, imgsz: int, classes: Sequence[str]
) -> dict:
    """Ultralytics' own `val` of `weights` on `data`, its labels renumbered to `classes`.

    Batch 1: each image letterboxed to its own shape. In larger batches images share the
    batch's shape, and mAP50 moves with the batch size (0.235-0.244 at 320 for batches of
    32, 16, 1 and 8, measured on dawn_fog)."""
    with tempfile.TemporaryDirectory(prefix="tvdesk-val-") as tmp:
        remapped = renumbered_dataset(data, classes, Path(tmp) / "data")
        yolo = ultralytics_offline().YOLO(str(weights), task="detect")
        box = yolo.val(
            data=str(remapped),
            imgsz=imgsz,
            batch=1,
            device="cpu",
            plots=False,
            verbose=False,
            project=str(Path(tmp) / "runs"),
            name="val",
        ).box
    ap50 = {
        classes[int(c)]: round(float(a), 4)
        for c, a in zip(box.ap_class_index, box.ap50, strict=True)
    }
    return {"map50": round(float(box.map50), 4), "map50_95": round(float(box.map), 4), "ap50": ap50}


def renumbered_dataset(data: LabelledFolder, classes: Sequence[str], out: Path) -> Path:
    """A copy of a labelled folder (images linked) whose labels keep `classes`, numbered in
    that order, as a YOLO dataset in `out` (train and val alike); returns its data.yaml."""
    import yaml

    new_id = {data.names.index(name): i for i, name in enumerate(classes)}
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir()
    for image in data.images:
        (out / "images" / image.name).symlink_to(image.resolve())
        source = data.labels_dir / f"{image.stem}.txt"
        lines = source.read_text().splitlines() if source.exists() else []
        kept = [
            " ".join([str(new_id[int(parts[0])]), *parts[1:]])
            for parts in (line.split() for line in lines)
            if parts and int(parts[0]) in new_id
        ]
        (out / "labels" / f"{image.stem}.txt").write_text("".join(f"{k}\n" for k in kept))
    spec = {"path": str(out), "train": "images", "val": "images", "names": dict(enumerate(classes))}
    (out / "data.yaml").write_text(yaml.safe_dump(spec))
    return out / "data.yaml"


def measure_all(
    built, data_yaml: Path, sizes: Sequence[int], threads: int, classes: Sequence[str]
) -> tuple[dict, dict]:
    """(metrics, references) at each input size, keyed `<set>@<size>`."""
    data, label = LabelledFolder.from_yaml(data_yaml), data_yaml.parent.name
    metrics, references = {}, {}
    for size in sizes:
        key = f"{label}@{size}"
        logger.info("measuring %s", key)
        metrics[key] = accuracy_of(*onnx_detect(built.onnx, size, threads), data, classes)
        references[key] = {
            "pt_ultralytics_predict": accuracy_of(
                *ultralytics_detect(built.pt, size), data, classes
            ),
            "pt_ultralytics_val": ultralytics_val(built.pt, data, size, classes),
        }
    size = built.source["imgsz"][0]
    references.setdefault(f"{label}@{size}", {})["source_int8_ours"] = accuracy_of(
        *onnx_detect(built.source_path, size, threads), data, classes
    )
    return metrics, references


def build(built, data_yaml: Path, sizes: Sequence[int], threads: int) -> dict:
    """The traffic model's card: `build_card`'s shape plus provenance and references."""
    metrics, references = measure_all(built, data_yaml, sizes, threads, built.classes)
    card = build_card(
        name=built.pt.stem,
        onnx_path=built.onnx,
        pt_path=built.pt,
        class_names=list(built.classes),
        data={"calibration": built.calibration, "evaluation": _relative(data_yaml)},
        train_params={
            "method": "int8 conv weights dequantised into yolov8n.yaml; BatchNorm restored "
            "from the calibration frames' conv-output mean and variance (eval output "
            "unchanged); class branch cut to the six traffic classes; no training",
            "default_imgsz": built.imgsz,
        },
        metrics=metrics,
        training_seconds=built.seconds,
        provenance={"source": built.source, "license": built.license},
    )
    card["metric_settings"] = {
        "detector": "tvdesk OnnxDetector on the ONNX (single-label NMS, rectangular letterbox)",
        "conf": VAL_CONF,
        "iou": VAL_IOU,
        "classes": "matched by name; mAP over the classes present in the labels",
        "references": {
            "pt_ultralytics_predict": "Ultralytics predict on the .pt, same matching: the same "
            "arithmetic as the metrics, so the .pt and the ONNX must agree",
            "pt_ultralytics_val": "Ultralytics val of the .pt, batch 1: multi-label NMS and "
            "its own letterbox (half a stride of padding), so a little higher",
            "source_int8_ours": "the int8 source export (80 classes, fixed 320x320) through "
            "our detector, measured on the six classes",
        },
    }
    card["references"] = references
    return card


def summary(card: dict) -> str:
    """A table of the card's metrics and references, for the command's output."""
    lines = [f"{'set@size':<16} {'measured with':<24} {'mAP50':>7} {'mAP50-95':>9}  AP50 per class"]
    for key, figures in card["metrics"].items():
        rows = {"OnnxDetector (onnx)": figures, **card["references"].get(key, {})}
        for who, f in rows.items():
            per_class = " ".join(f"{k}={v:.3f}" for k, v in f.get("ap50", {}).items())
            lines.append(
                f"{key:<16} {who:<24} {f['map50']:>7.4f} {f['map50_95']:>9.4f}  {per_class}"
            )
    return "\n".join(lines)


def _relative(path: Path) -> str:
    """`path` as seen from the project root (e.g. ../shared/realdata/...)."""
    from tvdesk.config import project_root

    return os.path.relpath(path.resolve(), project_root())
