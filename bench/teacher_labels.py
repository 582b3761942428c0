"""The teacher labeler on real night footage: how many frames and boxes it labels.

    .venv/bin/python -m bench.teacher_labels [--video PATH] [--model PATH] [--step 30]
        [--out bench/results/teacher_labels.json] [--png docs/teacher-night.png]

Every `step`-th frame of the video is pseudo-labelled by `TeacherLabeler` (night gamma lift,
whole frame + zoomed tiles, each view checked against its mirror, confident boxes only). The
reference, measured in the same run on the same frames, is the plain detector on the raw
frame, at each of the same score floors. The PNG shows the 4 frames with the most teacher
boxes at the lowest floor, drawn on the gamma-lifted frame (the raw frames are nearly black).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tvdesk.config import project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.session.annotate import class_colour
from tvdesk.retrain.enhance import enhance
from tvdesk.retrain.labelers import TEACHER_MIN_SCORE, TeacherLabeler

REALDATA = project_root().parent / "shared" / "realdata"
DEFAULT_VIDEO = REALDATA / "videos" / "dashcam_night_tmo.mp4"
DEFAULT_MODEL = REALDATA / "models" / "yolov8n_int8_320.onnx"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "teacher_labels.json"
DEFAULT_PNG = project_root() / "docs" / "teacher-night.png"
DETECTOR_CONF = 0.05  # the teacher decides on the mirrored mean score, not on this
MIN_SCORES = (0.25, 0.35, TEACHER_MIN_SCORE)  # the PNG shows the first


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
    tiles = []
    for index, image, boxes in picked:
        view = enhance(image)
        for (x1, y1, x2, y2), label, score, cls in zip(
            boxes.xyxy.astype(int), boxes.labels(), boxes.scores, boxes.class_ids, strict=True
        ):
            colour = class_colour(int(cls))
            cv2.rectangle(view, (x1, y1), (x2, y2), colour, 2)
            cv2.putText(
                view,
                f"{label} {score:.2f}",
                (x1, max(12, y1 - 4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                colour,
                1,
                cv2.LINE_AA,
            )
        cv2.putText(
            view,
            f"frame {index}: {len(boxes)} teacher boxes",
            (8, 22),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(view)
    rows = [np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]
    return np.vstack(rows)


def tally(per_frame: list) -> dict:
    counts: dict[str, int] = {}
    for boxes in per_frame:
        for name, n in boxes.counts_by_name().items():
            counts[name] = counts.get(name, 0) + n
    return {
        "frames_with_labels": sum(len(b) > 0 for b in per_frame),
        "boxes": sum(len(b) for b in per_frame),
        "by_class": counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--step", type=int, default=30)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--png", type=Path, default=DEFAULT_PNG)
    args = parser.parse_args()
    detector = OnnxDetector(args.model, conf=DETECTOR_CONF, threads=1)
    # Greedy NMS keeps a box only for higher-scored ones, so labelling once with no score floor
    # and cutting afterwards gives exactly what a teacher with each floor would give.
    teacher = TeacherLabeler(detector, min_score=0.0)
    frames = read_frames(args.video, args.step)
    started = time.perf_counter()
    labelled = [(index, image, teacher.boxes(image)) for index, image in frames]
    seconds = (time.perf_counter() - started) / max(1, len(frames))
    plain = [detector.detect(image) for _, image in frames]
    result = {
        "video": args.video.name,
        "model": args.model.name,
        "frames": len(frames),
        "step": args.step,
        "teacher_seconds_per_frame": round(seconds, 2),
        "floors": {},
    }
    print(
        f"{'min score':>9}  {'teacher frames':>14} {'boxes':>6}  {'plain frames':>12} {'boxes':>6}"
    )
    for floor in MIN_SCORES:
        ours = tally([b.select(b.scores >= floor) for *_, b in labelled])
        reference = tally([p.select(p.scores >= floor) for p in plain])
        result["floors"][str(floor)] = {"teacher": ours, "plain_detector_reference": reference}
        print(
            f"{floor:>9.2f}  {ours['frames_with_labels']:>8}/{len(frames):<5} "
            f"{ours['boxes']:>6}  {reference['frames_with_labels']:>6}/{len(frames):<5} "
            f"{reference['boxes']:>6}   teacher by class: {ours['by_class']}"
        )
    print(f"teacher: {seconds:.2f} s per frame (12 inferences: 6 views and their mirrors)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shown = [(i, image, b.select(b.scores >= MIN_SCORES[0])) for i, image, b in labelled]
    picked = sorted(shown, key=lambda item: -len(item[2]))[:4]
    args.png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.png), sheet(sorted(picked, key=lambda item: item[0])))
    print(f"wrote {args.out} and {args.png} (boxes scored >= {MIN_SCORES[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
