"""A real camera's base dataset: its normal frames, labelled, split and versioned with a real
DVC repo; built once per normal set and labeler, again after the camera re-learns."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import yaml

from tvdesk.core.session.cameras import camera_folder
from tvdesk.core.store import Camera
from tvdesk.core.synth.dataset import DatasetError
from tvdesk.retrain.camera_base import camera_base_dataset
from tvdesk.retrain.dataset import dataset_versions

NAMES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
CAMERA = Camera("gate", "gate.mp4", "file:/gate.mp4", "file", "tvdesk-traffic", 1, id=7)


def _normal_frames(data_dir, count: int, shade: int = 90) -> None:
    folder = camera_folder(data_dir, CAMERA) / "normal"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = np.full((90, 160, 3), shade + i, np.uint8)
        cv2.imwrite(str(folder / f"{i * 10:08d}.jpg"), image)


def test_normal_frames_become_a_labelled_split_and_versioned_dataset(isolated_home):
    _normal_frames(isolated_home, 9)
    calls = []

    def label(path):
        calls.append(path.name)
        return ["2 0.5 0.5 0.2 0.1"]

    data_yaml = camera_base_dataset(isolated_home, CAMERA, NAMES, label, "teacher v1")
    spec = yaml.safe_load(data_yaml.read_text())
    assert list(spec["names"].values()) == list(NAMES)
    root = data_yaml.parent
    assert len(list((root / "images" / "train").glob("*.jpg"))) == 6
    val = sorted(p.name for p in (root / "images" / "val").glob("*.jpg"))
    assert val == ["00000020.jpg", "00000050.jpg", "00000080.jpg"]  # every third frame
    label_text = (root / "labels" / "val" / "00000020.txt").read_text()
    assert label_text == "2 0.5 0.5 0.2 0.1\n"
    assert [v.name for v in dataset_versions(isolated_home)] == ["cameras/camera-7"]

    assert camera_base_dataset(isolated_home, CAMERA, NAMES, label, "teacher v1") == data_yaml
    assert len(calls) == 9  # the same normal frames and labeler: nothing labelled again
    camera_base_dataset(isolated_home, CAMERA, NAMES, label, "teacher v2")
    assert len(calls) == 18  # another labeler labels them again


def test_a_camera_without_its_normal_frames_says_how_to_get_them(isolated_home):
    _normal_frames(isolated_home, 3)
    with pytest.raises(DatasetError, match="let it play until it has learnt its normal"):
        camera_base_dataset(isolated_home, CAMERA, NAMES, lambda p: [], "teacher v1")
