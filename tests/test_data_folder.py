"""One data folder for every command: the settings file's `data_dir`, else the home folder
(`--home`, else TVDESK_HOME, else the per-user folder). Each command is run on a database it
can only find by that rule, and must never touch the home folder's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from media import write_video

from tvdesk.cli import main
from tvdesk.config import settings_path
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.store import Camera, Store, database_path
from tvdesk.core.store.model_version import ModelVersion

WORKER_START_S = 60.0


def seed(data_dir: Path) -> None:
    """A database in `data_dir` with a model version, a camera on it, a job and a drift event."""
    with Store(database_path(data_dir)) as store:
        model = store.models.add(ModelVersion("seeded-line", "7", data_dir / "m.onnx"))
        store.cameras.add(Camera("seeded-cam", "x.mp4", "x.mp4", "file", model.name, model.id))
        store.jobs.create("retrain", {"seeded": True})
        session = store.sessions.start("x.mp4", "file", "7")
        store.drift_events.save(DriftEvent(1.0, {"luma_mean": -9.0}, 2.0, (1, 2)), session)


def run_command(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def check_run(data_dir: Path, argv: list[str], capsys, tmp_path: Path, bundled_model) -> None:
    clip = write_video(tmp_path / "clip.avi", frames=5)
    run_command([*argv, "run", str(clip), "--every-frame", "--model", str(bundled_model)], capsys)
    with Store(database_path(data_dir)) as store:
        assert store.sessions.all()[0]["source"] == str(clip)


def check_listing(command: list[str], expected: str) -> Callable:
    def check(data_dir, argv, capsys, tmp_path, bundled_model) -> None:
        assert expected in run_command([*argv, *command], capsys)

    return check


def check_retrain(data_dir: Path, argv: list[str], capsys, tmp_path, bundled_model) -> None:
    out = run_command(
        [*argv, "retrain", "--event", "1", "--no-worker", "--capture", str(tmp_path)], capsys
    )
    assert f"queued retraining job #2 on local ({data_dir / 'queue.db'})" in out


def check_worker(data_dir: Path, argv: list[str], capsys, tmp_path, bundled_model) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tvdesk.cli", *argv, "worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + WORKER_START_S
        while not (data_dir / "queue.db").exists() and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker opened no queue in its data folder"
            time.sleep(0.1)
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait(10)


COMMANDS = {
    "run": check_run,
    "jobs": check_listing(["jobs", "list"], "#1 retrain queued"),
    "models": check_listing(["models", "list"], "v7"),
    "cameras": check_listing(["cameras", "list"], "seeded-cam"),
    "retrain": check_retrain,
    "worker": check_worker,
}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_uses_the_data_dir_of_the_settings_file(
    command, isolated_home, tmp_path, capsys, bundled_model
):
    data_dir = tmp_path / "moved data"
    settings_path().write_text(f"data_dir = {str(data_dir)!r}\n")
    seed(data_dir)
    COMMANDS[command](data_dir, [], capsys, tmp_path, bundled_model)
    assert not database_path(isolated_home).exists()  # the home folder's database: untouched


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_uses_the_home_option(command, isolated_home, tmp_path, capsys, bundled_model):
    home = tmp_path / "other home"
    seed(home)
    COMMANDS[command](home, ["--home", str(home)], capsys, tmp_path, bundled_model)
    assert not database_path(isolated_home).exists()


def test_a_relative_data_dir_is_taken_from_the_settings_folder(isolated_home, capsys):
    settings_path().write_text('data_dir = "data"\n')
    seed(isolated_home / "data")
    assert "seeded-cam" in run_command(["cameras", "list"], capsys)
