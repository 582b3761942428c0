"""The teacher on the real night clip: what a retraining of a night camera would be labelled with.

    .venv/bin/python -m bench.teacher_labels [--video PATH] [--model PATH] [--step 30]
        [--out bench/results/teacher_labels.json] [--sheet build/teacher-night.png]

Every `step`-th frame of the clip is seen by the student (the traffic model as a real camera
runs it: 480 px, the player's confidence) and by the teacher (`EnsembleTeacher`: 640 and 800
px, mirrored, the dark frame lifted, views fused; confident boxes only, doubtful frames
flagged), in the same run. The contact sheet (the 4 frames with the most teacher boxes, drawn
on the lifted frame) is written under build/: the night clip is internal-only footage, so its
images never go into the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tvdesk.config import project_root, traffic_model_path
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.session.annotate import class_colour
from tvdesk.retrain.teacher import EnsembleTeacher, lift

REALDATA = project_root().parent / "shared" / "realdata"
DEFAULT_VIDEO = REALDATA / "videos" / "dashcam_night_tmo.mp4"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "teacher_labels.json"
DEFAULT_SHEET = project_root() / "build" / "teacher-night.png"
STUDENT_SIZE, STUDENT_CONF = 480, 0.25  # a real camera's defaults
VEHICLES = ("car", "motorcycle", "bus", "truck")


def read_frames(video: Path, step: int) -> list[tuple[int, np.ndarray]]:
    capture = cv2.VideoCapture(str(video))
    frames, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append((index, image))
        index += 1
    capture.release()
    return frames


def sheet(picked: list[tuple[int, np.ndarray, object]]) -> np.ndarray:
    """A 2x2 grid of lifted frames with the teacher's boxes drawn on them."""
    tiles = []
    for index, image, boxes in picked:
        view = lift(image)
        for (x1, y1, x2, y2), label, cls in zip(
            boxes.xyxy.astype(int), boxes.labels(), boxes.class_ids, strict=True
        ):
            cv2.rectangle(view, (x1, y1), (x2, y2), class_colour(int(cls)), 2)
            cv2.putText(view, label, (x1, max(12, y1 - 4)), 0, 0.45, class_colour(int(cls)), 1)
        cv2.putText(
            view, f"frame {index}: {len(boxes)} teacher boxes", (8, 22), 0, 0.6, (255, 255, 255), 1
        )
        tiles.append(view)
    while len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)])


def vehicles(boxes) -> int:
    return sum(n for name, n in boxes.counts_by_name().items() if name in VEHICLES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--model", type=Path, default=traffic_model_path())
    parser.add_argument("--step", type=int, default=30)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--sheet", type=Path, default=DEFAULT_SHEET)
    args = parser.parse_args()
    student = OnnxDetector(args.model, conf=STUDENT_CONF, imgsz=STUDENT_SIZE, threads=1)
    teacher = EnsembleTeacher(args.model)
    frames = read_frames(args.video, args.step)
    taught, seconds = [], 0.0
    for index, image in frames:
        started = time.perf_counter()
        labels = teacher.label(image)
        seconds += time.perf_counter() - started
        taught.append((index, image, labels))
    seen = [student.detect(image) for _, image in frames]
    result = {
        "video": args.video.name,
        "model": args.model.name,
        "frames": len(frames),
        "step": args.step,
        "student": {
            "input": STUDENT_SIZE,
            "conf": STUDENT_CONF,
            "vehicles_per_frame": round(sum(map(vehicles, seen)) / len(frames), 3),
            "frames_with_vehicles": sum(vehicles(b) > 0 for b in seen),
        },
        "teacher": {
            "kept_vehicles_per_frame": round(
                sum(vehicles(t.boxes) for *_, t in taught) / len(frames), 3
            ),
            "frames_with_vehicles": sum(vehicles(t.boxes) > 0 for *_, t in taught),
            "doubtful_frames": sum(t.doubtful for *_, t in taught),
            "lifted_frames": sum(t.lifted for *_, t in taught),
            "seconds_per_frame": round(seconds / len(frames), 3),
        },
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    picked = sorted(taught, key=lambda item: -len(item[2].boxes))[:4]
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.sheet), sheet([(i, im, t.boxes) for i, im, t in sorted(picked)]))
    print(f"wrote {args.out} and {args.sheet} (internal footage: keep it out of the repo)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
