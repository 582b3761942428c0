"""Make and gate the int8 copies of the two bundled models, and record each verdict in its card:
`python -m tvdesk.training.int8_models` (`make int8-models`).

- tvdesk-traffic: calibrated on the 64 real day frames of the shared clips that its BatchNorm
  statistics came from, at 480 (real cameras' default input), gated on real fog (dawn_fog) at
  480 and at 320;
- tvdesk-base: calibrated on the base training images at 320 (the synthetic camera's size),
  gated on base val and the held-out synthetic day set.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from tvdesk.config import project_root
from tvdesk.core import atomic
from tvdesk.core.detector.int8_copy import CARD_KEY
from tvdesk.training import traffic_model
from tvdesk.training.int8 import Int8Verdict, make_int8

logger = logging.getLogger(__name__)

MODELS = project_root() / "resources" / "models"
BASE_DATA = project_root() / "data" / "base"
HELD_OUT_DAY = project_root() / "build" / "eval" / "day" / "data.yaml"
DAY_SET_COMMAND = (
    "tvdesk data synth build/eval/day --conditions day --train 0 --val 200 --seed 1001"
)
TRAFFIC_SIZES = (traffic_model.EXPORT_IMGSZ, 320)
BASE_SIZES = (320,)


def traffic_int8(models: Path, videos: Path, fog: Path, threads: int) -> Int8Verdict:
    """The traffic model's int8 copy, calibrated as its BatchNorm was restored."""
    calibration = traffic_model.calibration_set(videos)
    clips = ", ".join(f"{clip} {len(i)}" for clip, i in calibration.sources.items())
    return make_int8(
        models / f"{traffic_model.NAME}.onnx",
        list(calibration.frames),
        {fog.parent.name: fog},
        TRAFFIC_SIZES,
        source=f"{len(calibration.frames)} real day frames evenly spread over the shared clips "
        f"({clips}): the frames its BatchNorm statistics came from (data.calibration)",
        threads=threads,
    )


def base_int8(models: Path, base: Path, day: Path, threads: int) -> Int8Verdict:
    """The synthetic-world model's int8 copy, calibrated on its training images."""
    return make_int8(
        models / "tvdesk-base.onnx",
        base / "images" / "train",
        {"base_val": base / "data.yaml", "held_out_day": day},
        BASE_SIZES,
        source="base training images (data/base/images/train, evenly spread)",
        threads=threads,
    )


def record(verdict: Int8Verdict, card_path: Path) -> None:
    """Write `verdict` into the card at `card_path` (its `int8` entry)."""
    card = json.loads(card_path.read_text())
    card[CARD_KEY] = verdict.as_card()
    atomic.write_text(card_path, json.dumps(card, indent=2) + "\n")


def summary(name: str, verdict: Int8Verdict) -> list[str]:
    lines = [f"{name}: int8 {'passed' if verdict.passed else 'FAILED'} {verdict.reason}".rstrip()]
    for key, m in verdict.map50.items():
        lines.append(f"  {key:<20} fp32 {m['fp32']:.4f}  int8 {m['int8']:.4f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    missing = [
        f"{what} is not at {path}{hint}"
        for path, what, hint in (
            (args.videos, "the shared day clips", ": give --videos"),
            (args.fog, "dawn_fog's data.yaml", ": give --fog"),
            (args.base, "the base dataset", ": run `tvdesk data base`"),
            (args.day, "the held-out synthetic day set", f": run `{DAY_SET_COMMAND}`"),
        )
        if not path.exists()
    ]
    if missing:
        print("\n".join(missing))
        return 2
    verdicts = {
        traffic_model.NAME: traffic_int8(args.models, args.videos, args.fog, args.threads),
        "tvdesk-base": base_int8(args.models, args.base, args.day, args.threads),
    }
    for name, verdict in verdicts.items():
        record(verdict, args.models / f"{name}.json")
        print("\n".join(summary(name, verdict)))
    return 0 if all(v.passed for v in verdicts.values()) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tvdesk.training.int8_models",
        description="Make the int8 copies of the bundled traffic and synthetic-world models "
        "(static int8, the decode in float), gate each against its fp32 model on its held-out "
        "sets (at most 0.01 mAP50 lost) and record the verdicts in their cards. A copy that "
        "fails its gate is removed. A few CPU-minutes.",
    )
    parser.add_argument("--models", type=Path, default=MODELS, help="the bundled models' folder")
    parser.add_argument("--videos", type=Path, default=traffic_model.VIDEOS)
    parser.add_argument("--fog", type=Path, default=traffic_model.EVAL_DATA)
    parser.add_argument("--base", type=Path, default=BASE_DATA)
    parser.add_argument("--day", type=Path, default=HELD_OUT_DAY)
    parser.add_argument("--threads", type=int, default=2, help="inference threads of the gate")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
