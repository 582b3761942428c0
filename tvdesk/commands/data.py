"""`tvdesk data ...`: render synthetic datasets and reproduce the DVC-tracked base dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

from tvdesk.commands import data_versions
from tvdesk.config import project_root
from tvdesk.core.synth.conditions import CONDITION_NAMES, preset
from tvdesk.core.synth.dataset import DatasetError, DatasetSpec, write_dataset
from tvdesk.core.synth.preview import contact_sheet
from tvdesk.retrain.dataset import reproduce_base_dataset


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="make and check datasets")
    data_sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    synth = data_sub.add_parser(
        "synth",
        help="render a synthetic YOLO dataset",
        description="Render procedural traffic scenes with exact YOLO labels into OUT "
        "(images/{train,val}, labels/{train,val}, data.yaml). Images cycle through "
        "the chosen conditions; the same seed gives byte-identical files.",
    )
    synth.add_argument("out", type=Path, help="output folder (created if missing)")
    synth.add_argument(
        "--conditions",
        default="day",
        help=f"comma-separated, from: {', '.join(CONDITION_NAMES)} (default: day)",
    )
    synth.add_argument("--train", type=_count, default=480, help="training images (default 480)")
    synth.add_argument("--val", type=_count, default=120, help="validation images (default 120)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--size", default="640x360", type=_size, help="image size WIDTHxHEIGHT (default 640x360)"
    )
    synth.set_defaults(run=run_synth)

    base = data_sub.add_parser(
        "base",
        help="reproduce data/base and check it against data.dvc",
        description="Render the base (day) dataset into data/base if it is missing, and prove "
        "with DVC that it is exactly the version recorded in data.dvc.",
    )
    base.set_defaults(run=run_base)

    sheet = data_sub.add_parser(
        "preview",
        help="save a contact sheet of the synthetic conditions",
        description="Render the same traffic under each condition, with its labels, into one "
        "image (a grid of two columns).",
    )
    sheet.add_argument("out", type=Path, help="PNG file to write")
    sheet.add_argument(
        "--conditions",
        default="day,night,rain,fog",
        help="comma-separated conditions (default: day,night,rain,fog)",
    )
    sheet.add_argument("--seed", type=int, default=3)
    sheet.set_defaults(run=run_preview)

    data_versions.add_parser(data_sub)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 640x360") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError("width and height must be at least 64")
    return w, h


def _progress(done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        print(f"  rendered {done}/{total} images", file=sys.stderr)


def run_synth(args: argparse.Namespace) -> int:
    conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    spec = DatasetSpec(
        conditions=conditions,
        train=args.train,
        val=args.val,
        seed=args.seed,
        width=args.size[0],
        height=args.size[1],
    )
    data_yaml = write_dataset(args.out, spec, _progress)
    print(f"wrote {spec.train + spec.val} images: {data_yaml}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    for name in conditions:
        preset(name)
    image = contact_sheet(conditions, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), image):
        raise DatasetError(f"could not write {args.out}: give a writable .png path")
    print(f"wrote {args.out}")
    return 0


def run_base(args: argparse.Namespace) -> int:
    reproduce_base_dataset(project_root(), _progress)
    print("data/ matches data.dvc (dvc status: up to date)")
    return 0
