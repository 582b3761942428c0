"""Datasets on disk and their versions: the base dataset, and DVC as the record of what is which.

The base dataset is generated, not downloaded: `ensure_base_dataset` renders it deterministically
into `data/base/`, and `data.dvc` records its hash, so `dvc status` proves the copy is exact.
The installed app has no git checkout: its data folder is a DVC repo of its own, where the
base dataset is rendered on first need and every retraining dataset is a new version.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from tvdesk.core.drift.model_profile import RELIT_PREFIX, REPLAY_PREFIX
from tvdesk.core.synth.dataset import (
    JPEG_QUALITY,
    DatasetError,
    DatasetSpec,
    write_data_yaml,
    write_dataset,
)
from tvdesk.retrain.relight import Relighting

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


# --- The app data folder as a DVC repository, and the retraining datasets in it. ---

APP_DATA_FOLDER = "data"
DATASETS_FOLDER = "datasets"
REMOTE_NAME = "local"
REMOTE_FOLDER = "dvc-remote"
REPO_LOCK_NAME = ".dvc-repo.lock"
REPO_LOCK_TIMEOUT_S = 600.0  # the longest `dvc add` + push of a dataset version, and more
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# Ultralytics writes labels/*.cache beside the labels on first use: not part of a version.
DVC_IGNORE = "*.cache\n.dvc-repo.lock\n"
HIDDEN_GREY = 114  # Ultralytics' letterbox padding: what the model sees where there is no image


@dataclass(frozen=True)
class LabelledImage:
    """One image with its YOLO label lines (class cx cy w h, normalised); none = background.

    `hidden` holds regions (x1 y1 x2 y2, normalised) whose content the labels are unsure of:
    a teacher's boxes below its keep score. They are painted grey in the image written to a
    data set, so that training learns them neither as vehicles nor as road (measured on real
    fog: trained on the teacher's confident boxes alone, the student learnt to miss the
    vehicles it was unsure of, held-out mAP50 0.339 -> 0.233).
    """

    image: Path
    lines: tuple[str, ...]
    hidden: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True)
class DatasetVersion:
    """A DVC-tracked dataset of the app data folder, as `tvdesk data versions` lists it."""

    name: str
    md5: str
    images: int
    dvc_file: Path
    modified: float


@contextmanager
def repo_lock(repo_root: Path) -> Iterator[None]:
    """One DVC operation on the app data repo at a time, across processes: two cameras'
    jobs may version their datasets at once (DVC's own lock gives up after a few seconds,
    and two `init`s of one folder fail)."""
    from filelock import FileLock

    repo_root.mkdir(parents=True, exist_ok=True)
    with FileLock(repo_root / REPO_LOCK_NAME, timeout=REPO_LOCK_TIMEOUT_S):
        yield


def app_data_repo(data_dir: Path, remote: Path | None = None) -> Path:
    """Make `data_dir` a DVC repo without git (the installed app has no checkout).

    A local-folder remote (`data_dir/dvc-remote` unless given) is configured on creation,
    so every dataset version can be pushed somewhere other than the cache.
    """
    if (data_dir / ".dvc").is_dir():
        return data_dir
    with repo_lock(data_dir):
        if not (data_dir / ".dvc").is_dir():  # another job may have made it meanwhile
            _init_repo(data_dir, remote)
    return data_dir


def _init_repo(data_dir: Path, remote: Path | None) -> None:
    quiet_dvc()
    from dvc.repo import Repo

    with Repo.init(str(data_dir), no_scm=True) as repo, repo.config.edit() as conf:
        conf["remote"][REMOTE_NAME] = {"url": str(remote or data_dir / REMOTE_FOLDER)}
        conf["core"]["remote"] = REMOTE_NAME
    (data_dir / ".dvcignore").write_text(DVC_IGNORE)
    logger.info("made %s a DVC repository (remote %s)", data_dir, REMOTE_NAME)


def app_base_dataset(data_dir: Path, progress=None) -> Path:
    """The base dataset in the app data folder, rendered on first need and versioned."""
    app_data_repo(data_dir)
    data_yaml = ensure_base_dataset(data_dir / APP_DATA_FOLDER, progress)
    if not (data_dir / APP_DATA_FOLDER / "base.dvc").exists():
        version_dataset(data_dir, data_yaml.parent)
    return data_yaml


def assemble_dataset(
    root: Path,
    new: Sequence[LabelledImage],
    base_yaml: Path,
    *,
    replay: int,
    val_fraction: float,
    seed: int,
    relight: Relighting | None = None,
    relit: int = 0,
    earlier: Sequence[Sequence[LabelledImage]] = (),
) -> Path:
    """Write new frames (split train/val) plus `replay` base training images into `root`,
    and, with `relight`, `relit` other base training images relit to the drifted light.
    `earlier` holds the frames of a job's earlier rounds, oldest first: round k's are split
    with `seed + k` (k from 0), as in the round that added them, so that a frame never
    changes sides; the new frames are round len(earlier)'s, and the replay and relit choice
    is drawn after their split.

    The val split holds new frames only, so validation measures the drifted conditions; the
    replayed base images keep what the model knew. Returns the data.yaml path.
    """
    if not new:
        raise DatasetError(
            "no labelled frames to train on: label some frames (or choose "
            "another labeler) and start the retraining again"
        )
    for number, items in enumerate(earlier):
        _write_split(root, items, val_fraction, np.random.default_rng(seed + number), number)
    rng = np.random.default_rng(seed + len(earlier))
    _write_split(root, new, val_fraction, rng, len(earlier))
    base_items = _base_train_items(base_yaml)
    order = rng.permutation(len(base_items))
    replayed = sorted(order[:replay])
    for number, index in enumerate(replayed):
        _write_item(root, "train", f"{REPLAY_PREFIX}{number:06d}", base_items[index])
    if relight is not None and relit > 0:
        # Images the replay left out first (more traffic seen), then the replayed ones.
        chosen = [*order[replay:], *order[:replay]][:relit]
        for number, index in enumerate(sorted(chosen)):
            _write_relit(root, f"{RELIT_PREFIX}{number:06d}", base_items[index], relight, rng)
    names = yaml.safe_load(base_yaml.read_text())["names"]
    return write_data_yaml(root, [names[i] for i in sorted(names)])


def _write_split(
    root: Path,
    items: Sequence[LabelledImage],
    val_fraction: float,
    rng: np.random.Generator,
    round_index: int,
) -> None:
    """One round's frames split train/val by `rng`; round 0's are new_N, round k's new_rk_N."""
    order = rng.permutation(len(items))
    n_val = min(len(items) - 1, max(1, round(len(items) * val_fraction))) if len(items) > 1 else 0
    splits = {"val": [items[i] for i in order[:n_val]], "train": [items[i] for i in order[n_val:]]}
    prefix = f"new_r{round_index}_" if round_index else "new_"
    for split, chosen in splits.items():
        for number, item in enumerate(chosen):
            _write_item(root, split, f"{prefix}{number:06d}", item)


def version_dataset(repo_root: Path, folder: Path) -> str:
    """`dvc add` the folder (cache + pointer file); returns the md5 it is recorded under."""
    quiet_dvc()
    from dvc.repo import Repo

    with repo_lock(repo_root), Repo(str(repo_root)) as repo:
        repo.add(str(folder))
    return data_version(folder.with_name(folder.name + ".dvc"))


def push_dataset(repo_root: Path, dvc_file: Path) -> int:
    """Push one version to the configured remote; returns how many files were uploaded."""
    quiet_dvc()
    from dvc.repo import Repo

    with repo_lock(repo_root), Repo(str(repo_root)) as repo:
        if not repo.config.get("core", {}).get("remote"):
            return 0
        return int(repo.push(targets=[str(dvc_file)]))


def dataset_versions(data_dir: Path) -> list[DatasetVersion]:
    """The DVC-tracked datasets in the app data folder, oldest first."""
    versions = []
    for dvc_file in (data_dir / APP_DATA_FOLDER).rglob("*.dvc"):
        folder = dvc_file.with_suffix("")
        images = sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        name = str(folder.relative_to(data_dir / APP_DATA_FOLDER))
        versions.append(
            DatasetVersion(name, data_version(dvc_file), images, dvc_file, dvc_file.stat().st_mtime)
        )
    return sorted(versions, key=lambda v: (v.modified, v.name))


def retrain_dataset_folder(data_dir: Path, job_id: int) -> Path:
    return data_dir / APP_DATA_FOLDER / DATASETS_FOLDER / f"job-{job_id}"


def base_train_images(base_yaml: Path) -> list[Path]:
    """The base dataset's training images, sorted."""
    return sorted(
        p
        for p in (base_yaml.parent / "images" / "train").iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES
    )


def labelled_objects(data_yaml: Path, split: str = "val") -> int:
    """How many boxes the labels of `split` of the dataset `data_yaml` hold."""
    labels = data_yaml.parent / "labels" / split
    if not labels.is_dir():
        return 0
    return sum(
        1 for f in labels.glob("*.txt") for line in f.read_text().splitlines() if line.strip()
    )


def boxes_per_class(
    data_yaml: Path, split: str = "train", *, drifted_only: bool = False
) -> dict[str, int]:
    """How many boxes of each class (by name, every class of the dataset listed) the labels
    of `split` hold; with `drifted_only`, those of the job's own frames (not the replayed or
    relit base images)."""
    names = yaml.safe_load(data_yaml.read_text())["names"]
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    counts = dict.fromkeys(names, 0)
    labels = data_yaml.parent / "labels" / split
    for file in labels.glob("*.txt") if labels.is_dir() else ():
        if drifted_only and file.name.startswith((REPLAY_PREFIX, RELIT_PREFIX)):
            continue
        for line in file.read_text().splitlines():
            if line.strip():
                counts[names[int(line.split()[0])]] += 1
    return counts


def class_loss_weights(counts: dict[str, int], min_boxes: int) -> tuple[float, ...] | None:
    """Per class (in the order of `counts`), 0 for a class with fewer than `min_boxes` boxes
    to learn from and 1 for the rest; None when every class has enough."""
    if all(n >= min_boxes for n in counts.values()):
        return None
    return tuple(0.0 if n < min_boxes else 1.0 for n in counts.values())


def _base_train_items(base_yaml: Path) -> list[LabelledImage]:
    items = []
    for image in base_train_images(base_yaml):
        label = base_yaml.parent / "labels" / "train" / f"{image.stem}.txt"
        lines = label.read_text().splitlines() if label.exists() else []
        items.append(LabelledImage(image, tuple(line for line in lines if line.strip())))
    return items


def hide_regions(
    image: np.ndarray,
    hidden: Sequence[tuple[float, float, float, float]],
    lines: Sequence[str],
) -> np.ndarray:
    """A copy of `image` with the `hidden` regions (normalised x1 y1 x2 y2) painted the
    letterbox grey, except where a labelled box (`lines`, YOLO) lies: a vehicle the labels
    hold is never hidden by an unsure box beside or over it."""
    height, width = image.shape[:2]
    out = image.copy()
    for x1, y1, x2, y2 in hidden:
        out[_pixel_span(y1, y2, height), _pixel_span(x1, x2, width)] = HIDDEN_GREY
    for line in lines:
        _, cx, cy, w, h = (float(v) for v in line.split()[:5])
        rows = _pixel_span(cy - h / 2, cy + h / 2, height)
        cols = _pixel_span(cx - w / 2, cx + w / 2, width)
        out[rows, cols] = image[rows, cols]
    return out


def _pixel_span(start: float, stop: float, size: int) -> slice:
    """The pixels from `start` to `stop` (fractions of `size`), rounded outwards."""
    return slice(max(0, int(np.floor(start * size))), min(size, int(np.ceil(stop * size))))


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read {path}: the frame is missing or damaged")
    return image


def _write_relit(
    root: Path, stem: str, item: LabelledImage, relight: Relighting, rng: np.random.Generator
) -> None:
    image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read base image {item.image}: render the base dataset again")
    _write_item(root, "train", stem, item, pixels=relight.apply(image, rng))


def _write_item(
    root: Path, split: str, stem: str, item: LabelledImage, pixels: np.ndarray | None = None
) -> None:
    """The item's image (or `pixels` in its place, as JPEG) and its labels under `stem`."""
    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    if pixels is None and item.hidden:
        pixels = hide_regions(_read_image(item.image), item.hidden, item.lines)
    if pixels is None:
        shutil.copyfile(item.image, images / f"{stem}{item.image.suffix.lower()}")
    else:
        cv2.imwrite(str(images / f"{stem}.jpg"), pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    (labels / f"{stem}.txt").write_text("".join(f"{line}\n" for line in item.lines))
