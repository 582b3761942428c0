"""The `tvdesk` command: help that explains, and bad input that gets one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tvdesk.cli import main


def tvdesk(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tvdesk.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tvdesk: error")]
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


def test_help_lists_the_commands():
    result = tvdesk("--help")
    assert result.returncode == 0
    for command in ("gui", "run", "data", "train", "worker", "jobs", "retrain", "models"):
        assert command in result.stdout


def test_data_synth_help_explains_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "synth", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--conditions", "--train", "--val", "--seed", "--size", "byte-identical"):
        assert option in text


def test_data_synth_writes_a_yolo_dataset_ultralytics_accepts(tmp_path):
    out = tmp_path / "ds"
    assert (
        main(
            [
                "data",
                "synth",
                str(out),
                "--conditions",
                "day,night",
                "--train",
                "4",
                "--val",
                "2",
                "--size",
                "320x180",
            ]
        )
        == 0
    )
    images = sorted(p.name for p in (out / "images" / "train").iterdir())
    assert images == ["day_000000.jpg", "day_000002.jpg", "night_000001.jpg", "night_000003.jpg"]
    config = yaml.safe_load((out / "data.yaml").read_text())
    assert config["names"] == {0: "car", 1: "truck", 2: "bus", 3: "motorcycle"}
    assert "path" not in config  # splits resolve next to data.yaml, wherever it is moved
    for label_file in (out / "labels" / "train").iterdir():
        rows = [line.split() for line in label_file.read_text().splitlines()]
        assert rows, f"{label_file.name} has no boxes"
        for cls, *xywh in rows:
            assert 0 <= int(cls) < 4
            assert all(0.0 <= float(v) <= 1.0 for v in xywh)


def test_unknown_condition_is_one_line(tmp_path):
    result = tvdesk("data", "synth", str(tmp_path / "x"), "--conditions", "day,snow")
    assert_one_line_error(result, "unknown condition 'snow'", "choose one of")
    assert not (tmp_path / "x").exists()


def test_unwritable_output_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = tvdesk("data", "synth", str(blocker / "out"), "--train", "1", "--val", "0")
    assert_one_line_error(result, "choose another folder")
    result = tvdesk("data", "synth", "/proc/tvdesk-out", "--train", "1", "--val", "0")
    assert_one_line_error(result, "/proc/tvdesk-out")


def test_a_dataset_folder_without_images_is_one_line(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: {0: car}\n")
    result = tvdesk("train", "--data", str(tmp_path / "data.yaml"), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, "holds no images")


def test_missing_dataset_yaml_is_one_line(tmp_path):
    result = tvdesk("train", "--data", str(tmp_path / "nope.yaml"), "--out", str(tmp_path))
    assert_one_line_error(result, "not found")


def test_bad_size_is_an_argparse_error(tmp_path):
    result = tvdesk("data", "synth", str(tmp_path), "--size", "big")
    assert result.returncode == 2 and "WIDTHxHEIGHT" in result.stderr
    assert "Traceback" not in result.stderr
