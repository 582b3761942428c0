"""The real-weather loop, measured on real ground truth: a real day clip, then real fog.

    .venv/bin/python -m bench.real_weather [--labels teacher|import] [--runs 1]
        [--out bench/results/real_weather.json]

A camera plays a real day clip (its normal, learnt as its baseline), then the fog images of
`dawn_fog` as the same camera (an image folder played like a snapshot camera, looped while the
retraining runs). The drift alarm comes, the retraining is approved at once, its frames are
labelled (a) by the teacher alone, no ground truth used, or (b) by importing the ground truth
of those frames (an operator's labels from a labelling tool), the traffic model is fine-tuned,
gated on the job's own held-in data, and swapped in. A fixed split of `dawn_fog` is held out
and never streamed: every third image by name. On it, the old and the new version are measured
(mAP50 over the classes present, our detector, at 320 and at the camera's 480); forgetting is
measured on real day frames of the other shared clips, labelled by the teacher.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import yaml

from bench.teacher_accuracy import replayed
from jobs.retraining import RetrainApprover
from tvdesk.config import RetrainSettings, load_settings, project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import box_iou
from tvdesk.core.sources import ImageFolderSource
from tvdesk.core.store import Store
from tvdesk.core.store.connection import database_path
from tvdesk.demo.headless import DemoOptions, HeadlessDemo
from tvdesk.demo.report import build_report
from tvdesk.retrain.labelers import TeacherLabeler, teacher_lines
from tvdesk.retrain.teacher import EnsembleTeacher
from tvdesk.training.accuracy import VAL_CONF, VAL_IOU, LabelledFolder, measure

logger = logging.getLogger("bench.real_weather")

REALDATA = project_root().parent / "shared" / "realdata"
FOG = REALDATA / "labelled" / "dawn_fog"
CLIPS = REALDATA / "videos"
DAY_CLIP = "dashcam_city_day_tmo_seattle1.mp4"  # the camera's normal: a city street by day
FORGETTING_CLIPS = ("overhead_day_intel_car-detection.mp4", "cctv_highway_day_bgs_video02.avi")
RESULTS = project_root() / "bench" / "results"
FPS = 5.0  # frames per second the camera shows
DAY_S = 40.0  # seconds of day before the fog (the first BASELINE_S are its baseline)
BASELINE_S = 20.0
FOG_PASSES = 40  # the fog images, looped while the retraining runs (~16 min of stream)
DAY_FRAMES_FOR_FORGETTING = 60
SIZES = (320, 480)
VEHICLES = ("car", "bus", "truck")


def split_fog() -> tuple[list[Path], list[Path]]:
    """(held-in, held-out): every third image by name is held out and never streamed."""
    images = sorted((FOG / "images").glob("*.jpg"))
    held_out = [p for i, p in enumerate(images) if i % 3 == 2]
    return [p for p in images if p not in held_out], held_out


def stream_folder(root: Path, held_in: list[Path]) -> tuple[Path, dict[int, Path]]:
    """The camera's frames in play order (day, then the fog looped) as an image folder, and
    which fog image each frame index shows."""
    folder = root / "stream"
    folder.mkdir(parents=True)
    capture = cv2.VideoCapture(str(CLIPS / DAY_CLIP))
    step = max(1, round(capture.get(cv2.CAP_PROP_FPS) / FPS))
    index, fog_of = 0, {}
    for i in range(int(DAY_S * FPS) * step):
        ok, image = capture.read()
        if not ok:
            break
        if i % step == 0:
            cv2.imwrite(str(folder / f"{index:06d}.jpg"), image)
            index += 1
    capture.release()
    for _ in range(FOG_PASSES):
        for image in held_in:
            (folder / f"{index:06d}.jpg").symlink_to(image)
            fog_of[index] = image
            index += 1
    return folder, fog_of


def operator_export(root: Path, fog_of: dict[int, Path]) -> Path:
    """The ground truth of the fog frames as a labelling tool would export it: YOLO labels
    named after the frame numbers tvdesk exported, with the dataset's own class names."""
    export = root / "operator-labels"
    export.mkdir()
    names = yaml.safe_load((FOG / "data.yaml").read_text())["names"]
    (export / "classes.txt").write_text("".join(f"{names[i]}\n" for i in sorted(names)))
    for index, image in fog_of.items():
        shutil.copyfile(FOG / "labels" / f"{image.stem}.txt", export / f"{index:08d}.txt")
    return export


def forgetting_set(root: Path, teacher: TeacherLabeler) -> LabelledFolder:
    """Real day frames of the other shared clips, labelled by the teacher (made once per
    run: a kept run measured again reads its own)."""
    if (root / "day" / "data.yaml").is_file():
        return LabelledFolder.from_yaml(root / "day" / "data.yaml")
    images, labels = root / "day" / "images" / "val", root / "day" / "labels" / "val"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    per_clip = DAY_FRAMES_FOR_FORGETTING // len(FORGETTING_CLIPS)
    for clip in FORGETTING_CLIPS:
        capture = cv2.VideoCapture(str(CLIPS / clip))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        for n in range(per_clip):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(n * (total - 5) / per_clip))
            ok, image = capture.read()
            if ok:
                path = images / f"{Path(clip).stem}-{n:03d}.jpg"
                cv2.imwrite(str(path), image)
                (labels / f"{path.stem}.txt").write_text(
                    "".join(f"{line}\n" for line in teacher_lines(teacher, path))
                )
        capture.release()
    names = teacher.teacher.names
    (root / "day" / "data.yaml").write_text(
        yaml.safe_dump({"val": "images/val", "names": dict(enumerate(names))})
    )
    return LabelledFolder.from_yaml(root / "day" / "data.yaml")


def map50(model: Path, data: LabelledFolder, size: int) -> float:
    return accuracy(model, data, size)[0]


def accuracy(model: Path, data: LabelledFolder, size: int) -> tuple[float, dict[str, float]]:
    """mAP50 over the classes present, and each class's AP50 (a class with a handful of
    boxes in the split moves the mean as much as the cars do)."""
    figures = accuracies(model, data, size)
    return figures["map50"], figures["ap50"]


def accuracies(model: Path, data: LabelledFolder, size: int) -> dict:
    """`accuracy`, and the AP50 of finding the vehicles whatever kind they are named (car,
    bus and truck one class on both sides; a car box and a truck box on one vehicle count as
    a hit and a false positive, as the detector's class-aware NMS keeps both), from one
    detection pass."""
    detector = OnnxDetector(model, conf=VAL_CONF, iou=VAL_IOU, imgsz=size, threads=2)
    found = [detector.detect(cv2.imread(str(image))) for image in data.images]
    by_class = measure(replayed(found), detector.names, data)
    merged = LabelledFolder(data.images, data.labels_dir, _as_vehicles(data.names))
    vehicles = measure(replayed(found), _as_vehicles(detector.names), merged, classes=["vehicle"])
    return {
        "map50": round(by_class.map50, 4),
        "ap50": {name: round(ap, 4) for name, ap in by_class.ap50.items()},
        "vehicles_map50": round(vehicles.map50, 4),
    }


def _as_vehicles(names) -> tuple[str, ...]:
    return tuple("vehicle" if name in VEHICLES else name for name in names)


def naming(model: Path, data: LabelledFolder, size: int) -> dict[str, dict[str, int]]:
    """What the model calls each labelled bus and truck at the player's thresholds: the class
    of the detection that overlaps it best (IoU >= 0.5), or "missed"."""
    detector = OnnxDetector(model, imgsz=size, threads=2)
    table: dict[str, dict[str, int]] = {}
    for image in data.images:
        frame = cv2.imread(str(image))
        truth, ids = data.truth(image, frame.shape[1], frame.shape[0])
        found = detector.detect(frame)
        overlaps, called_as = box_iou(truth, found.xyxy), found.labels()
        for overlap, class_id in zip(overlaps, ids, strict=True):
            name = data.names[int(class_id)]
            if name not in ("bus", "truck"):
                continue
            best = int(overlap.argmax()) if len(found) else -1
            called = called_as[best] if best >= 0 and overlap[best] >= 0.5 else "missed"
            row = table.setdefault(name, {})
            row[called] = row.get(called, 0) + 1
    return table


def run_once(labels: str, number: int, train_threads: int | None = None) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"tvdesk-real-weather-{labels}-"))
    home = root / "home"
    held_in, held_out = split_fog()
    folder, fog_of = stream_folder(root, held_in)
    settings = replace(load_settings(), data_dir=home, baseline_seconds=BASELINE_S)
    retrain = RetrainSettings(labeler="teacher", refine_minutes=0.0)  # the first version
    if train_threads is not None:
        retrain = retrain.with_changes(threads=train_threads)
    if labels == "import":
        retrain = retrain.with_changes(
            labeler="import", import_dir=str(operator_export(root, fog_of))
        )
    approver = RetrainApprover(retrain, home, traffic_imgsz=settings.traffic_imgsz)
    fog_start_s = min(fog_of) / FPS  # the day clip may be shorter than DAY_S
    options = DemoOptions(
        day_s=fog_start_s, fade_s=0.0, fps=FPS, baseline_s=BASELINE_S, auto_approve=True
    )
    source = ImageFolderSource(folder, fps=FPS)
    started = time.monotonic()
    try:
        run = HeadlessDemo(options, settings, approver, source=source).run()
    finally:
        approver.stop_workers()
    report = build_report(run)  # its drift onset is the fog's start (options.day_s)
    report["source"] = f"{DAY_CLIP} ({fog_start_s:.1f} s of day), then dawn_fog held-in, looped"
    report["train_threads"] = retrain.threads
    if report["alarm"]:
        report["alarm"]["after_fog_start_s"] = round(report["alarm"]["stream_s"] - fog_start_s, 1)
    report["wall_s"] = round(time.monotonic() - started, 1)
    report.update(measure_versions(root, home, run.started_version, held_out))
    report["run"], report["labels"], report["home"] = number, labels, str(home)
    return report


def measure_versions(root: Path, home: Path, started_version: str, held_out: list[Path]) -> dict:
    """mAP50 of the version it started with and the one it ended with, on the held-out fog
    and on the teacher-labelled real day frames; per class, and over the vehicles whatever
    kind they are named; and what each calls the day's buses and trucks."""
    with Store(database_path(home)) as store:
        versions = store.models.all()
    old = next(v for v in versions if v.version == started_version)
    new = versions[-1] if versions[-1].id != old.id else None
    fog = LabelledFolder.from_yaml(FOG / "data.yaml").subset(held_out)
    day = forgetting_set(root, TeacherLabeler(EnsembleTeacher(old.path)))
    figures: dict = {"held_out_fog_images": len(held_out), "day_images": len(day.images)}
    figures["held_out_fog_boxes"] = boxes_per_class(fog)
    figures["day_boxes"] = boxes_per_class(day)
    for size in SIZES:
        for which, version in (("old", old), ("new", new)):
            if version is None:
                continue
            for name, data in (("fog", fog), ("day", day)):
                for figure, value in accuracies(version.path, data, size).items():
                    figures[f"{which}_{name}_{figure}_{size}"] = value
            figures[f"{which}_day_naming_{size}"] = naming(version.path, day, size)
        if new is not None:
            for kind in ("", "vehicles_"):
                figures[f"fog_{kind}gain_{size}"] = round(
                    figures[f"new_fog_{kind}map50_{size}"] - figures[f"old_fog_{kind}map50_{size}"],
                    4,
                )
                figures[f"day_{kind}drop_{size}"] = round(
                    figures[f"old_day_{kind}map50_{size}"] - figures[f"new_day_{kind}map50_{size}"],
                    4,
                )
    return {"map50": figures}


def measure_kept(root: Path, out: Path) -> int:
    """`measure_versions` on a kept run: the version its job started from and the last one."""
    home = root / "home"
    with Store(database_path(home)) as store:
        versions = store.models.all()
    if len(versions) < 2:
        sys.exit(f"{root}: no retrained version to measure (a kept real_weather run is needed)")
    started = next(v for v in versions if v.id == versions[-1].parent_id)
    figures = measure_versions(root, home, started.version, split_fog()[1])
    out.write_text(json.dumps({"root": str(root), **figures}, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures["map50"].items() if "gain" in k or "drop" in k}))
    return 0


def boxes_per_class(data: LabelledFolder) -> dict[str, int]:
    """How many labelled boxes of each class a set has, most first."""
    counts: dict[str, int] = {}
    for image in data.images:
        height, width = cv2.imread(str(image)).shape[:2]
        for class_id in data.truth(image, width, height)[1]:
            name = data.names[int(class_id)]
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def print_row(report: dict) -> None:
    m, job, swap = report["map50"], report["job"] or {}, report["swap"] or {}
    alarm = report["alarm"]["after_fog_start_s"] if report["alarm"] else None
    fog = [f"{m.get(f'old_fog_map50_{z}')} -> {m.get(f'new_fog_map50_{z}')}" for z in SIZES]
    drop = [str(m.get(f"day_drop_{z}")) for z in SIZES]
    print(
        f"{report['labels']:>8} #{report['run']}: alarm {alarm} s after the fog, "
        f"{report['false_alarms_before_drift']} before | live "
        f"{job.get('approval_to_live_wall_s')} s | fog {' / '.join(fog)} | day drop "
        f"{' / '.join(drop)} | swap dropped {swap.get('frames_dropped_during_swap')} | "
        f"{job.get('message')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", choices=("teacher", "import", "both"), default="both")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--train-threads", type=int, help="torch threads of the fine-tune (default: the setting's)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "real_weather.json")
    parser.add_argument(
        "--measure",
        type=Path,
        metavar="ROOT",
        help="measure again the versions of a kept run (/tmp/tvdesk-real-weather-*) into --out",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not FOG.is_dir():
        sys.exit(f"{FOG} is missing: the benchmark needs ../shared/realdata")
    if args.measure:
        return measure_kept(args.measure, args.out)
    kinds = ("teacher", "import") if args.labels == "both" else (args.labels,)
    reports = []
    for number in range(1, args.runs + 1):
        for kind in kinds:
            reports.append(run_once(kind, number, args.train_threads))
            print_row(reports[-1])
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(
                json.dumps(
                    {"machine": platform.processor() or platform.machine(), "runs": reports},
                    indent=2,
                )
                + "\n"
            )
    for report in reports:
        print_row(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
