"""Rebuild tvdesk's traffic detector (COCO YOLOv8n cut to six traffic classes) from the int8
export in the shared real data, reproducibly: `python -m tvdesk.training.traffic_model`.

Steps: dequantise the export's convs into `yolov8n.yaml`, restore BatchNorm from 64 day frames
of the shared clips, keep person, bicycle, car, motorcycle, bus and truck, save an Ultralytics
checkpoint that fine-tunes, export a dynamic ONNX, measure both on a labelled set and write
the model card. The weights are Ultralytics' (AGPL-3.0), and so is what is built from them.
"""

from __future__ import annotations

import argparse
import ast
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from tvdesk.config import project_root
from tvdesk.core import atomic
from tvdesk.core.detector.letterbox import Letterbox
from tvdesk.training import traffic_weights
from tvdesk.training.card import sha256_of, write_card
from tvdesk.training.export import export_onnx
from tvdesk.training.offline import ultralytics_offline

if TYPE_CHECKING:
    from ultralytics.nn.tasks import DetectionModel

logger = logging.getLogger(__name__)

NAME = "tvdesk-traffic"
TRAFFIC_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
LICENSE = "AGPL-3.0"
REALDATA = project_root().parent / "shared" / "realdata"
SOURCE = REALDATA / "models" / "yolov8n_int8_320.onnx"
VIDEOS = REALDATA / "videos"
EVAL_DATA = REALDATA / "labelled" / "dawn_fog" / "data.yaml"
# The shared day clips, 64 frames evenly spaced over what each decodes (22 + 21 + 21).
DAY_CLIPS = (
    "overhead_day_intel_car-detection.mp4",
    "cctv_highway_day_bgs_video02.avi",
    "dashcam_city_day_tmo_seattle1.mp4",
)
CALIBRATION_FRAMES = 64
CALIBRATION_IMGSZ = 320  # the export's own size, letterboxed as the player does (320x192 for 16:9)
EXPORT_IMGSZ = 480  # the player's default input size for this model (bench/traffic_input_size.py)


@dataclass(frozen=True)
class CalibrationSet:
    """The frames BatchNorm statistics come from, and where each came from."""

    frames: tuple[np.ndarray, ...]
    sources: dict[str, list[int]]  # clip name -> frame indices

    def tensors(self, imgsz: int) -> list[np.ndarray]:
        """Each frame as the [1, 3, H, W] model input the player would make of it."""
        return [
            Letterbox.fit(f.shape[:2], (imgsz, imgsz), 32).to_tensor(f, np.float32)
            for f in self.frames
        ]


@dataclass(frozen=True)
class Rebuilt:
    """What `rebuild` wrote, and what it was made from."""

    pt: Path
    onnx: Path
    imgsz: int  # the ONNX's default input size
    source_path: Path
    source: dict  # `source_provenance`
    calibration: dict  # frames, imgsz, clip -> frame indices
    seconds: float
    classes: tuple[str, ...] = TRAFFIC_CLASSES
    license: str = LICENSE


def spread_indices(total: int, count: int) -> list[int]:
    """`count` frame indices evenly spread over `total` frames (centred in equal parts)."""
    return sorted({int((i + 0.5) * total / count) for i in range(min(count, total))})


def read_frames(video: Path, indices: Sequence[int]) -> list[np.ndarray]:
    """The frames at `indices` of a video, decoded in order (seeking is inexact in some codecs)."""
    wanted, frames = set(indices), []
    capture = cv2.VideoCapture(str(video))
    try:
        index = 0
        while len(frames) < len(wanted) and capture.grab():
            if index in wanted:
                frames.append(capture.retrieve()[1])
            index += 1
    finally:
        capture.release()
    return frames


def count_frames(video: Path) -> int:
    """How many frames a video really decodes (containers may report more)."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {video}: check the shared real data folder")
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def calibration_set(videos: Path, clips: Sequence[str] = DAY_CLIPS) -> CalibrationSet:
    """`CALIBRATION_FRAMES` frames shared out over `clips`, evenly spaced in each."""
    frames, sources = [], {}
    for i, clip in enumerate(clips):
        share = CALIBRATION_FRAMES // len(clips) + (i < CALIBRATION_FRAMES % len(clips))
        indices = spread_indices(count_frames(videos / clip), share)
        frames += read_frames(videos / clip, indices)
        sources[clip] = indices
    return CalibrationSet(tuple(frames), sources)


def source_provenance(source: Path) -> dict:
    """The source export's file, checksum and the Ultralytics release and date it records."""
    meta = _metadata(source)
    return {
        "file": source.name,
        "sha256": sha256_of(source),
        "description": meta.get("description", ""),
        "ultralytics_version": meta.get("version", ""),
        "date": meta.get("date", ""),
        "license": meta.get("license", ""),
        "imgsz": ast.literal_eval(meta.get("imgsz", "None")),
        "classes": len(source_names(source)),
    }


def source_names(source: Path) -> list[str]:
    """The source export's class names, in id order."""
    names = ast.literal_eval(_metadata(source).get("names", "{}"))
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)


def _metadata(onnx_path: Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def build_model(source: Path, calibration: CalibrationSet) -> DetectionModel:
    """The fp32 traffic model (eval mode): dequantised, BatchNorm restored, six classes kept."""
    convs = traffic_weights.read_fused_convs(source)
    model = traffic_weights.fused_model(convs, source_names(source))
    traffic_weights.restore_batchnorm(model, calibration.tensors(CALIBRATION_IMGSZ))
    return traffic_weights.keep_classes(model, TRAFFIC_CLASSES)


def save_checkpoint(model: DetectionModel, path: Path, imgsz: int) -> None:
    """An Ultralytics checkpoint as its trainer leaves one (`strip_optimizer`): fp16 weights,
    no optimizer; `YOLO(path)` predicts, validates, exports and fine-tunes from it. (fp16
    moves class scores by at most 0.003 on real frames and mAP50 by 0.0003: measured.)"""
    import io
    from copy import deepcopy

    import torch
    import ultralytics

    model = deepcopy(model).eval().half()
    model.args = {"task": "detect", "model": "yolov8n.yaml", "imgsz": imgsz}
    model.criterion = None
    for parameter in model.parameters():
        parameter.requires_grad = False
    buffer = io.BytesIO()
    torch.save(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": ultralytics.__version__,
            "license": "AGPL-3.0 (https://ultralytics.com/license)",
            "docs": "https://docs.ultralytics.com",
            "epoch": -1,
            "best_fitness": None,
            "model": model,
            "ema": None,
            "updates": None,
            "optimizer": None,
            "train_args": dict(model.args),
            "train_metrics": {},
        },
        buffer,
    )
    atomic.write_bytes(path, buffer.getvalue())


def rebuild(source: Path, videos: Path, out_dir: Path, imgsz: int = EXPORT_IMGSZ) -> Rebuilt:
    """Write `<out_dir>/tvdesk-traffic.pt` and its dynamic ONNX (default input `imgsz`)."""
    started = time.perf_counter()
    calibration = calibration_set(videos)
    model = build_model(source, calibration)
    pt = out_dir / f"{NAME}.pt"
    save_checkpoint(model, pt, imgsz)
    onnx = _export(pt, imgsz)
    logger.info("rebuilt %s and %s", pt, onnx)
    return Rebuilt(
        pt=pt,
        onnx=onnx,
        imgsz=imgsz,
        source_path=source,
        source=source_provenance(source),
        calibration={
            "frames": len(calibration.frames),
            "imgsz": CALIBRATION_IMGSZ,
            "clips": calibration.sources,
        },
        seconds=time.perf_counter() - started,
    )


def _export(pt: Path, imgsz: int) -> Path:
    """Export beside the checkpoint, from a copy in a temporary folder so nothing else lands
    there (Ultralytics writes its ONNX next to the weights it exports)."""
    with tempfile.TemporaryDirectory(prefix="tvdesk-traffic-") as tmp:
        copy = Path(tmp) / pt.name
        atomic.copy_file(pt, copy)
        exported = export_onnx(copy, imgsz, dynamic=True)
        target = pt.with_suffix(".onnx")
        atomic.copy_file(exported, target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the traffic model into `--out`, measure it and write its card."""
    from tvdesk.training import traffic_card

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ultralytics_offline()
    for path, what, option in (
        (args.source, "the int8 source model", "--source"),
        (args.videos, "the folder of day clips", "--videos"),
        (args.eval, "the labelled set's data.yaml", "--eval"),
    ):
        if not path.exists():
            print(f"{what} is not at {path}: give its path with {option}")
            return 2
    built = rebuild(args.source, args.videos, args.out, args.imgsz)
    card = traffic_card.build(built, args.eval, args.sizes, args.threads)
    card_path = args.out / f"{NAME}.json"
    write_card(card, card_path)
    print(traffic_card.summary(card))
    print(f"wrote {built.pt}, {built.onnx} and {card_path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tvdesk.training.traffic_model",
        description=(
            "Rebuild tvdesk's real-camera traffic detector from the int8 COCO YOLOv8n export: "
            "dequantise its convs, restore BatchNorm from 64 frames of the shared day clips, keep "
            f"the classes {', '.join(TRAFFIC_CLASSES)}, save {NAME}.pt (an Ultralytics checkpoint "
            f"that fine-tunes) and {NAME}.onnx (dynamic input), measure both on a labelled set "
            f"and write {NAME}.json (the card). Weights and result: {LICENSE}. A few minutes on "
            "2 CPU cores."
        ),
    )
    parser.add_argument("--source", type=Path, default=SOURCE, help="the int8 COCO export")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the day clips")
    parser.add_argument(
        "--eval", type=Path, default=EVAL_DATA, help="YOLO data.yaml measured into the card"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=project_root() / "resources" / "models",
        help="folder for the .pt, .onnx and .json (default: the bundled models)",
    )
    parser.add_argument(
        "--imgsz",
        type=int,
        default=EXPORT_IMGSZ,
        help="the player's default input size, written into the ONNX (chosen with "
        "bench/traffic_input_size.py)",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[320, 480, 640], help="input sizes to measure"
    )
    parser.add_argument("--threads", type=int, default=2, help="inference threads while measuring")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
