"""Retraining datasets in the app data folder: assembly, and versions with real DVC."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from tvdesk.core.synth.dataset import DatasetError, DatasetSpec, write_dataset
from tvdesk.retrain.dataset import (
    HIDDEN_GREY,
    LabelledImage,
    app_data_repo,
    assemble_dataset,
    boxes_per_class,
    class_loss_weights,
    data_version,
    dataset_versions,
    dvc_status,
    hide_regions,
    push_dataset,
    version_dataset,
)


@pytest.fixture(scope="module")
def base_yaml(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    return write_dataset(folder, DatasetSpec(train=6, val=2, width=160, height=90))


def _new_frames(base_yaml, count):
    images = sorted((base_yaml.parent / "images" / "train").iterdir())[:count]
    return [LabelledImage(p, (f"0 0.5 0.5 0.1 0.{i + 1}",)) for i, p in enumerate(images)]


def test_assembly_splits_new_frames_and_replays_base_images(tmp_path, base_yaml):
    data = assemble_dataset(
        tmp_path / "ds", _new_frames(base_yaml, 5), base_yaml, replay=3, val_fraction=0.2, seed=0
    )
    names = lambda split: sorted(p.stem for p in (data.parent / "images" / split).iterdir())  # noqa: E731
    assert names("val") == ["new_000000"]  # val holds new frames only
    assert len([n for n in names("train") if n.startswith("new_")]) == 4
    assert len([n for n in names("train") if n.startswith("replay_")]) == 3
    labels = (data.parent / "labels" / "val" / "new_000000.txt").read_text()
    assert labels.startswith("0 0.5 0.5 0.1")
    assert "names" in data.read_text() and "car" in data.read_text()


def test_regions_the_labels_are_unsure_of_are_painted_grey_around_the_labelled_boxes(
    tmp_path, base_yaml
):
    """A teacher's unsure box is hidden in the written image; a labelled box inside it is
    kept as it was; the rest of the image and the labels are untouched."""
    source = sorted((base_yaml.parent / "images" / "train").iterdir())[0]
    original = cv2.imread(str(source))
    labelled = "0 0.300000 0.500000 0.100000 0.200000"  # x 0.25-0.35, y 0.4-0.6
    item = LabelledImage(source, (labelled,), hidden=((0.2, 0.3, 0.5, 0.7),))
    data = assemble_dataset(tmp_path / "ds", [item], base_yaml, replay=0, val_fraction=0.0, seed=0)
    [written] = (data.parent / "images" / "train").iterdir()
    image = cv2.imread(str(written)).astype(int)
    hidden_only = _part(image, 0.32, 0.68, 0.37, 0.48)
    assert np.abs(hidden_only - HIDDEN_GREY).mean() < 2  # JPEG rings a little at its edges
    box = _part(image, 0.42, 0.58, 0.27, 0.33) - _part(original, 0.42, 0.58, 0.27, 0.33)
    assert np.abs(box).mean() < 8
    rest = _part(image, 0.0, 1.0, 0.6, 1.0) - _part(original, 0.0, 1.0, 0.6, 1.0)
    assert np.abs(rest).mean() < 4
    assert (data.parent / "labels" / "train" / f"{written.stem}.txt").read_text() == labelled + "\n"
    assert np.array_equal(hide_regions(original, (), ()), original)


def test_classes_with_too_few_boxes_to_learn_from_are_left_out_of_the_class_loss(
    tmp_path, base_yaml
):
    """Counted per class over the job's own frames of the training split (the replayed base
    images left aside on request); a class named by fewer boxes than the minimum gets weight
    0, every class listed."""
    data = assemble_dataset(
        tmp_path / "ds", _new_frames(base_yaml, 4), base_yaml, replay=2, val_fraction=0.0, seed=0
    )
    drifted = boxes_per_class(data, "train", drifted_only=True)
    names = list(drifted)
    assert names == list(boxes_per_class(data, "val")) and len(names) > 1
    # each new frame holds one class-0 box; assembly keeps one frame for val
    assert drifted[names[0]] == 3 and sum(drifted.values()) == 3
    assert sum(boxes_per_class(data, "train").values()) > 3  # the replayed images' boxes too
    assert class_loss_weights(drifted, 3) == (1.0,) + (0.0,) * (len(names) - 1)
    assert class_loss_weights(drifted, 4) == (0.0,) * len(names)
    assert class_loss_weights(drifted, 0) is None  # 0: every class taught


def _part(image, y1, y2, x1, x2):
    height, width = image.shape[:2]
    return image[int(y1 * height) : int(y2 * height), int(x1 * width) : int(x2 * width)].astype(int)


def test_no_labelled_frames_is_a_clear_error(tmp_path, base_yaml):
    with pytest.raises(DatasetError, match="no labelled frames"):
        assemble_dataset(tmp_path / "ds", [], base_yaml, replay=3, val_fraction=0.2, seed=0)


def test_a_version_is_recorded_pushed_and_listed(isolated_home, base_yaml):
    app_data_repo(isolated_home)
    folder = isolated_home / "data" / "datasets" / "job-1"
    assemble_dataset(
        folder, _new_frames(base_yaml, 4), base_yaml, replay=2, val_fraction=0.25, seed=0
    )
    md5 = version_dataset(isolated_home, folder)
    dvc_file = folder.with_name("job-1.dvc")
    assert md5 == data_version(dvc_file) and md5.endswith(".dir")
    assert push_dataset(isolated_home, dvc_file) > 0
    assert any((isolated_home / "dvc-remote").rglob("*"))
    (folder / "labels" / "train.cache").write_bytes(b"ultralytics cache")  # not part of it
    assert dvc_status(isolated_home, dvc_file) == {}
    [listed] = dataset_versions(isolated_home)
    assert (listed.name, listed.md5, listed.images) == ("datasets/job-1", md5, 6)
    assert version_dataset(isolated_home, folder) == md5  # same content, same version


def test_two_jobs_making_the_app_repo_at_once_both_get_it(tmp_path):
    """Two cameras' jobs reach their dataset stage at the same moment on a new data folder:
    one makes the DVC repo, the other waits for it and uses it (no "'.dvc' exists")."""
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: app_data_repo(tmp_path / "data"), range(2)))
    assert made == [tmp_path / "data"] * 2
    assert (tmp_path / "data" / ".dvc" / "config").read_text().count('remote "local"') == 1
