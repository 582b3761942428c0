"""A contact sheet of a camera's captured frames before and after a model swap, with the boxes
each frame was shown with: how an operator sees a retraining's effect on footage without
ground truth.

    .venv/bin/python scripts/contact_sheet.py CAPTURE_DIR --swap-at SECONDS [--since SECONDS]
        [--per-side 8] [--out build/contact-sheet.png]

CAPTURE_DIR is a camera's capture folder (`<data folder>/capture/<camera>`); SECONDS is the
stream time of the swap (a headless demo's report has it). Frames are spread evenly over the
captured time on each side of the swap, from `--since` on (e.g. when the night began). Keep the
sheet out of the repository unless the footage may be shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.session.capture import CapturedFrame, load_frame, stored_indices

THUMB_WIDTH = 400
COLUMNS = 4
HEADER = 36


def frames_around(
    capture: Path, swap_at: float, since: float, per_side: int
) -> tuple[list[CapturedFrame], list[CapturedFrame]]:
    """`per_side` readable frames spread over [since, swap_at) and over [swap_at, end]."""
    frames = []
    for index in stored_indices(capture):
        try:
            frame = load_frame(capture, index)
        except Exception:  # a frame the ring evicted while we read: skip it
            continue
        if frame.timestamp >= since:
            frames.append(frame)
    before = [f for f in frames if f.timestamp < swap_at]
    after = [f for f in frames if f.timestamp >= swap_at]
    return _spread(before, per_side), _spread(after, per_side)


def _spread(frames: list[CapturedFrame], count: int) -> list[CapturedFrame]:
    if len(frames) <= count:
        return frames
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in picks]


def thumbnail(frame: CapturedFrame) -> np.ndarray:
    """The frame with its boxes, its time and its box count, THUMB_WIDTH wide."""
    image = cv2.imread(str(frame.image), cv2.IMREAD_COLOR)
    d = frame.detections
    for box, score, cls in zip(d.xyxy, d.scores, d.class_ids, strict=True):
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 220, 255), 2)
        label = f"{d.names[int(cls)]} {score:.2f}"
        cv2.putText(
            image,
            label,
            (x1, max(y1 - 4, 12)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 220, 255),
            1,
            cv2.LINE_AA,
        )
    scale = THUMB_WIDTH / image.shape[1]
    image = cv2.resize(image, (THUMB_WIDTH, round(image.shape[0] * scale)), cv2.INTER_AREA)
    text = f"{frame.timestamp:7.1f} s  {len(d)} boxes"
    cv2.rectangle(image, (0, 0), (THUMB_WIDTH, 22), (0, 0, 0), -1)
    cv2.putText(
        image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
    )
    return image


def grid(frames: list[CapturedFrame], title: str) -> np.ndarray:
    thumbs = [thumbnail(f) for f in frames]
    height = max(t.shape[0] for t in thumbs)
    rows = []
    for start in range(0, len(thumbs), COLUMNS):
        row = thumbs[start : start + COLUMNS]
        row += [np.zeros((height, THUMB_WIDTH, 3), np.uint8)] * (COLUMNS - len(row))
        rows.append(
            np.hstack(
                [
                    cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 0, cv2.BORDER_CONSTANT)
                    for t in row
                ]
            )
        )
    header = np.full((HEADER, THUMB_WIDTH * COLUMNS, 3), 40, np.uint8)
    mean = np.mean([len(f.detections) for f in frames])
    cv2.putText(
        header,
        f"{title}: {mean:.1f} boxes a frame",
        (8, 25),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return np.vstack([header, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--swap-at", type=float, required=True, help="stream seconds")
    parser.add_argument("--since", type=float, default=0.0, help="stream seconds")
    parser.add_argument("--per-side", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("build/contact-sheet.png"))
    args = parser.parse_args(argv)
    before, after = frames_around(args.capture, args.swap_at, args.since, args.per_side)
    if not before or not after:
        sys.exit(
            f"{args.capture}: no captured frames on both sides of {args.swap_at} s "
            f"({len(before)} before, {len(after)} after): check the folder and the swap time"
        )
    sheet = np.vstack([grid(before, "before the swap"), grid(after, "after the swap")])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet)
    print(f"wrote {args.out} ({len(before)} frames before, {len(after)} after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
