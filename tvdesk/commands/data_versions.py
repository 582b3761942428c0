"""`tvdesk data versions`: the DVC-tracked datasets of the app data folder and their md5s."""

from __future__ import annotations

import argparse
import time

from tvdesk.config import default_data_dir
from tvdesk.retrain.dataset import dataset_versions


def add_parser(data_sub: argparse._SubParsersAction) -> None:
    """Add `versions` to the `tvdesk data` sub-commands."""
    parser = data_sub.add_parser(
        "versions",
        help="list the dataset versions (DVC) the models were trained on",
        description="Each retraining dataset is `dvc add`ed in the app data folder; its md5 is "
        "what a model version records as its data version.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    versions = dataset_versions(default_data_dir())
    if not versions:
        print("no dataset versions yet: the first retraining makes one")
    for v in versions:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(v.modified))
        print(f"{v.name:<24} {v.md5:<40} {v.images:>6} images  {when}")
    return 0
