"""Cameras from the command line: a file plays as its own camera, learns its normal once and
keeps it across runs; `tvdesk cameras` lists, shows, renames, sets, re-learns and forgets;
an unknown name and an unreadable baseline are one clear line each, and nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from media import write_synthetic_clip
from test_cli_run import tvdesk

from tvdesk.cli import main
from tvdesk.core.session.cameras import camera_folder
from tvdesk.core.session.normal_frames import normal_images
from tvdesk.core.store import Store, database_path

FPS = 10.0


@pytest.fixture(scope="module")
def day_clip(tmp_path_factory) -> Path:
    """16 s of the synthetic world by day as an ordinary video file: a 'real' camera to tvdesk."""
    return write_synthetic_clip(tmp_path_factory.mktemp("clips") / "north gate.avi", 16, FPS)


def run_json(capsys, *args: str) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_file_learns_its_normal_once_and_keeps_it(capsys, day_clip, bundled_model, isolated_home):
    first = run_json(
        capsys, str(day_clip), "--every-frame", "--baseline", "10s", "--model", str(bundled_model)
    )
    assert first["camera"] == "north gate"
    assert first["drift_tested"] and first["drift_reference"] == "baseline of 10 s"
    assert first["drift_events"] == []  # the rest of the same day is normal
    assert set(first["boxes_per_frame"]) <= {"car", "truck", "bus", "motorcycle"}
    again = run_json(capsys, str(day_clip), "--every-frame", "--model", str(bundled_model))
    assert again["camera"] == "north gate" and again["baseline_learnt_s"] == 0.0  # no re-learning
    assert again["drift_reference"] == "baseline of 10 s" and again["drift_tested"]
    with Store(database_path()) as store:
        assert [c.name for c in store.cameras.all()] == ["north gate"]
        sessions = [store.sessions.get(s["session_id"]) for s in (first, again)]
        folder = camera_folder(isolated_home, store.cameras.named("north gate"))
    assert {s["camera_id"] for s in sessions} == {1}
    normal = normal_images(folder)  # its normal as images, for its retrainings
    assert 90 <= len(normal) <= 120 and not (folder / "normal.partial").exists()
    assert cv2.imread(str(normal[0])).shape == (180, 320, 3)


def test_a_run_shorter_than_the_baseline_says_drift_was_not_tested(capsys, day_clip, bundled_model):
    summary = run_json(capsys, str(day_clip), "--every-frame", "--model", str(bundled_model))
    assert not summary["drift_tested"] and summary["drift_state"] == "learning"
    assert summary["drift_reference"] is None and summary["baseline_learnt_s"] > 10
    assert main(["run", str(day_clip), "--every-frame", "--model", str(bundled_model)]) == 0
    text = capsys.readouterr().out
    assert "drift:       not tested: the camera was still learning its normal" in text
    assert "no drift" not in text


def test_cameras_list_show_rename_set_relearn_and_forget(capsys, day_clip, bundled_model):
    run_json(
        capsys, str(day_clip), "--every-frame", "--baseline", "10s", "--model", str(bundled_model)
    )
    assert main(["cameras", "list"]) == 0
    listed = capsys.readouterr().out
    assert "north gate  [file]" in listed and "tested against its own learnt normal" in listed
    assert main(["cameras", "rename", "north gate", "gate 2"]) == 0
    assert main(["cameras", "set", "gate 2", "--imgsz", "640", "--classes", "car,truck"]) == 0
    assert main(["cameras", "set", "gate 2", "--detect-every-max", "2"]) == 0
    assert main(["cameras", "show", "gate 2"]) == 0
    shown = capsys.readouterr().out
    assert "input 640 px" in shown and "classes car, truck" in shown
    assert "1 frame in k detected when short of CPU, k <= 2" in shown
    assert "reference:  baseline of 10 s" in shown
    assert main(["cameras", "relearn", "gate 2"]) == 0
    with Store(database_path()) as store:
        camera = store.cameras.named("gate 2")
        assert camera.reference == "" and camera.detection.imgsz == 640
        assert camera.detection.detect_every_max == 2
    assert main(["cameras", "forget", "gate 2"]) == 0
    with Store(database_path()) as store:
        assert store.cameras.all() == [] and len(store.sessions.all()) == 1  # its session stays


@pytest.mark.parametrize(
    "args",
    [
        ("cameras", "show", "nowhere"),
        ("cameras", "rename", "nowhere", "x"),
        ("models", "rollback", "--camera", "nowhere"),
        ("cameras", "set", "synthetic", "--imgsz", "100"),
        ("cameras", "set", "synthetic", "--detect-every-max", "11"),
    ],
)
def test_an_unknown_camera_or_bad_setting_is_one_line(args):
    if args[:2] == ("cameras", "set"):  # the camera exists: the setting is what is wrong
        assert tvdesk("run", "synthetic:day", "--seconds", "1").returncode == 0
    result = tvdesk(*args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("tvdesk: error: ")


def test_an_unreadable_baseline_is_one_line_and_the_file_is_kept(
    capsys, day_clip, bundled_model, isolated_home
):
    run_json(
        capsys, str(day_clip), "--every-frame", "--baseline", "10s", "--model", str(bundled_model)
    )
    with Store(database_path()) as store:
        camera = store.cameras.named("north gate")
    reference = camera_folder(isolated_home, camera) / camera.reference
    reference.write_text("{ not json")
    result = tvdesk("run", str(day_clip), "--every-frame", "--model", str(bundled_model))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cannot be read" in lines[0] and "tvdesk cameras relearn north gate" in lines[0]
    assert reference.read_text() == "{ not json"  # kept for whoever wants to look at it
    assert main(["cameras", "relearn", "north gate"]) == 0
    assert "learns its normal again" in capsys.readouterr().out
    summary = run_json(
        capsys, str(day_clip), "--every-frame", "--baseline", "10s", "--model", str(bundled_model)
    )
    assert summary["drift_reference"] == "baseline of 10 s"
