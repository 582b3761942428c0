"""Labels people already have: a labelling tool's export (YOLO txt, COCO JSON, Pascal VOC XML, as
CVAT, Label Studio, Roboflow and X-AnyLabeling write them) read with supervision's dataset
loaders, class names mapped onto the camera's model classes, boxes as YOLO lines per image.

An export is matched to a retraining's frames by image file name: the frames tvdesk exports
for labelling are named after their frame number (`00001234.jpg`), and a labelling tool keeps
the names. An export without its images is read against the frames themselves.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
FORMATS = ("yolo", "coco", "voc")


class LabelImportError(RuntimeError):
    """An export cannot be read or does not fit the frames; the message says what to do."""


@dataclass(frozen=True)
class ImportedLabels:
    """YOLO lines (in the model's class ids) per image stem, and what did not fit."""

    format: str
    lines: dict[str, tuple[str, ...]]
    dropped: Counter[str] = field(default_factory=Counter)  # boxes of classes the model lacks

    def describe(self) -> str:
        boxes = sum(len(v) for v in self.lines.values())
        text = f"{boxes} boxes on {len(self.lines)} images ({self.format})"
        if self.dropped:
            names = ", ".join(f"{n} {c}" for n, c in self.dropped.most_common())
            text += f"; dropped the classes the model does not know: {names}"
        return text


def read_labels(
    export: Path, model_names: Sequence[str], frames_dir: Path | None = None
) -> ImportedLabels:
    """The labels of `export` (a folder or a COCO .json) for a model with `model_names`;
    `frames_dir` holds the images when the export has none."""
    export = Path(export)
    if not export.exists():
        raise LabelImportError(f"{export} does not exist: give the labelling tool's export")
    kind, dataset, labelled = _load(export, frames_dir)
    mapping = {i: _model_id(name, model_names) for i, name in enumerate(dataset.classes)}
    if all(v is None for v in mapping.values()):
        raise LabelImportError(
            f"none of the export's classes ({', '.join(dataset.classes)}) is one the camera's "
            f"model knows ({', '.join(model_names)}): rename them in the labelling tool"
        )
    lines: dict[str, tuple[str, ...]] = {}
    dropped: Counter[str] = Counter()
    for path in dataset.image_paths:
        if labelled is not None and Path(path).stem not in labelled:
            continue  # an image without a label file is unlabelled here, not empty road
        detections = dataset.annotations[path]
        kept, lost = _yolo_lines(Path(path), detections, mapping)
        lines[Path(path).stem] = kept
        dropped.update(dataset.classes[i] for i in lost)
    imported = ImportedLabels(kind, lines, dropped)
    logger.info("imported %s from %s", imported.describe(), export)
    return imported


def _load(export: Path, frames_dir: Path | None):
    """(format, supervision DetectionDataset, the stems that have YOLO label files or None)."""
    from supervision import DetectionDataset

    kind = detect_format(export)
    images = _images_dir(export, frames_dir)
    try:
        if kind == "coco":
            annotations = export if export.is_file() else next(export.rglob("*.json"))
            return kind, DetectionDataset.from_coco(str(images), str(annotations)), None
        if kind == "voc":
            xml_dir = next(p.parent for p in export.rglob("*.xml"))
            return kind, DetectionDataset.from_pascal_voc(str(images), str(xml_dir)), None
        data_yaml = _yolo_yaml(export)
        labels = next(p.parent for p in export.rglob("*.txt") if p.name != "classes.txt")
        stems = {p.stem for p in labels.glob("*.txt")}
        dataset = DetectionDataset.from_yolo(str(images), str(labels), str(data_yaml))
        return kind, dataset, stems
    except (ValueError, KeyError, OSError, StopIteration) as exc:
        raise LabelImportError(f"{export} is not a readable {kind} export ({exc})") from exc


def detect_format(export: Path) -> str:
    """yolo, coco or voc, from the files of the export; LabelImportError otherwise."""
    if export.is_file():
        if export.suffix.lower() == ".json":
            return "coco"
        raise LabelImportError(
            f"{export} is a single file that is not COCO JSON: give the export's folder"
        )
    if any(export.rglob("*.xml")):
        return "voc"
    if any(export.rglob("*.json")):
        return "coco"
    if any(p.name != "classes.txt" for p in export.rglob("*.txt")):
        return "yolo"
    raise LabelImportError(
        f"{export} holds no labels tvdesk can read: export YOLO txt, COCO JSON or Pascal VOC "
        "XML from the labelling tool"
    )


def _images_dir(export: Path, frames_dir: Path | None) -> Path:
    folder = export.parent if export.is_file() else export
    found = [p.parent for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    if found:
        return max(set(found), key=found.count)
    if frames_dir is None:
        raise LabelImportError(f"{export} has no images: export them too, or import per job")
    return frames_dir


def _yolo_yaml(export: Path) -> Path:
    """The export's data.yaml; a classes.txt (CVAT, X-AnyLabeling) is turned into one."""
    yamls = sorted(export.rglob("*.yaml")) + sorted(export.rglob("*.yml"))
    if yamls:
        return yamls[0]
    classes = next(export.rglob("classes.txt"), None) or next(export.rglob("obj.names"), None)
    if classes is None:
        raise LabelImportError(
            f"{export} has YOLO labels but no data.yaml or classes.txt naming the classes"
        )
    names = [n.strip() for n in classes.read_text().splitlines() if n.strip()]
    target = classes.with_name("data.yaml")
    import yaml

    target.write_text(yaml.safe_dump({"names": dict(enumerate(names))}))
    return target


def _model_id(name: str, model_names: Sequence[str]) -> int | None:
    wanted = name.strip().lower()
    return next((i for i, n in enumerate(model_names) if n.lower() == wanted), None)


def _yolo_lines(
    image: Path, detections, mapping: dict[int, int | None]
) -> tuple[tuple[str, ...], list[int]]:
    import cv2  # not Pillow: the player bundle leaves Pillow out (26 MB with its libraries)

    pixels = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise LabelImportError(f"cannot read {image}: the image is missing or damaged")
    height, width = pixels.shape[:2]
    kept, lost = [], []
    for (x1, y1, x2, y2), class_id in zip(detections.xyxy, detections.class_id, strict=True):
        model_id = mapping.get(int(class_id))
        if model_id is None:
            lost.append(int(class_id))
            continue
        x1, x2 = np.clip([x1, x2], 0, width)
        y1, y2 = np.clip([y1, y2], 0, height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        kept.append(f"{model_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return tuple(kept), lost
