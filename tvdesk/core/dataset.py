"""Datasets on disk and their versions: the base dataset, and DVC as the record of what is which.

The base dataset is generated, not downloaded: `ensure_base_dataset` renders it deterministically
into `data/base/`, and `data.dvc` records its hash, so `dvc status` proves the copy is exact.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

logger = logging.getLogger(__name__)

BASE_SPEC = DatasetSpec(conditions=("day",), train=480, val=120, seed=0)
DVC_ENV = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1"}


class DataVersionError(RuntimeError):
    """A DVC pointer is missing or unreadable; the message says what to do."""


def quiet_dvc() -> None:
    """No analytics or update checks: DVC runs offline and says nothing about itself."""
    os.environ.update(DVC_ENV)


def data_version(dvc_file: Path) -> str:
    """The md5 that a .dvc pointer records for its output (the dataset's version)."""
    try:
        pointer = yaml.safe_load(dvc_file.read_text())
        return str(pointer["outs"][0]["md5"])
    except FileNotFoundError:
        raise DataVersionError(
            f"{dvc_file} not found: run `dvc add` on the dataset first"
        ) from None
    except (KeyError, IndexError, TypeError, yaml.YAMLError) as exc:
        raise DataVersionError(f"{dvc_file} is not a DVC pointer file ({exc})") from exc


def dvc_status(repo_root: Path, target: Path) -> dict:
    """`dvc status` of one target as DVC's own dict; empty means the workspace matches."""
    quiet_dvc()
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        return repo.status(targets=[str(target)])


def reproduce_base_dataset(repo_root: Path, progress=None) -> None:
    """Render data/base if needed and prove it is the version data.dvc records.

    A fresh clone has data.dvc but no DVC cache: the rendered files are committed to the local
    cache only if their hash equals the recorded one; anything else is an error, never a
    silent new version.
    """
    dvc_file = repo_root / "data.dvc"
    ensure_base_dataset(repo_root / "data", progress)
    if not dvc_status(repo_root, dvc_file):
        return
    from dvc.repo import Repo
    from dvc.stage.exceptions import StageCommitError

    try:
        with Repo(str(repo_root)) as repo:
            repo.commit(str(dvc_file), force=False)
    except StageCommitError:
        raise DataVersionError(
            f"the rendered base dataset in {repo_root / 'data'} differs from the version in "
            f"{dvc_file.name} ({data_version(dvc_file)}); delete data/base and run "
            "`tvdesk data base` again with the pinned opencv-python and numpy"
        ) from None
    remaining = dvc_status(repo_root, dvc_file)
    if remaining:
        raise DataVersionError(f"dvc status still reports changes after setup: {remaining}")


def ensure_base_dataset(data_root: Path, progress=None) -> Path:
    """Render the base dataset into `data_root/base` unless it is already complete."""
    base = data_root / "base"
    expected = BASE_SPEC.train + BASE_SPEC.val
    if (base / "data.yaml").exists() and len(list(base.glob("images/*/*.jpg"))) == expected:
        return base / "data.yaml"
    logger.info("rendering the base dataset into %s", base)
    return write_dataset(base, BASE_SPEC, progress)
