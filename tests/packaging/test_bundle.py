"""Smoke test of the built installer bundle, run from a read-only install folder.

The frozen `tvdesk` plays the synthetic camera headless and opens its window offscreen, two
instances share one database without harm, and `tvdesk worker` (which hands over to the frozen
`tvdesk-worker`, the executable with the training stack) runs a tiny retraining end to end from
the local queue; afterwards the install folder is exactly as it was.

The bundle is built when TVDESK_BUILD_BUNDLE=1 (as `make test` and CI set it) and it is older
than the sources (about 6 min); otherwise the tests use a bundle already built from the current
sources, or skip saying how to get one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from jobs.queue import open_queue
from tvdesk.config import bundled_model_path, project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.registry import Registry
from tvdesk.core.store import Store
from tvdesk.core.store.job import JobState
from tvdesk.retrain.context import request_retrain
from tvdesk.retrain.dataset import dataset_versions

pytestmark = pytest.mark.slow

ROOT = project_root()
BUILD_ENV = "TVDESK_BUILD_BUNDLE"
JOB_TIMEOUT_S = 600.0
PLAY_5_S = ("run", "synthetic:day", "--seconds", "5", "--json")  # the headless demo


def _load(name: str, path: Path) -> ModuleType:
    """A script of packaging/ or a helper of another test folder, imported by its path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _load("tvdesk_build", ROOT / "packaging" / "build.py")
frozen = _load("tvdesk_measure_start", ROOT / "packaging" / "measure_start.py")
support = _load("retrain_support", ROOT / "tests" / "jobs" / "retrain_support.py")


@pytest.fixture(scope="module")
def bundle() -> Iterator[Path]:
    """The built bundle, made read-only for the module's tests."""
    if not build.bundle_is_current():
        if os.environ.get(BUILD_ENV) != "1":
            state = "is older than the sources" if build.BUNDLE.exists() else "is not built"
            pytest.skip(
                f"the installer bundle {state}: building takes several minutes "
                f"(docs/installer.md); run `python packaging/build.py --no-archive` or set "
                f"{BUILD_ENV}=1"
            )
        build.build(archive=False)
    with _read_only(build.BUNDLE):
        yield build.BUNDLE


@pytest.fixture(scope="module")
def install_snapshot(bundle) -> dict[str, tuple[int, int]]:
    return _snapshot(bundle)


def test_frozen_player_detects_on_the_synthetic_camera(bundle, install_snapshot, isolated_home):
    launched = time.time()
    done = frozen.run_frozen(bundle, isolated_home, *PLAY_5_S)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["frames"] > 10 and sum(summary["detections"].values()) > 0
    database = Path(summary["database"])
    assert database.parent == isolated_home  # the user's data folder, not the install folder
    first_frame = frozen.first_frame_time(database) - launched
    print(f"frozen cold start to the first detected frame: {first_frame:.2f} s")


def test_frozen_gui_opens_the_window_offscreen(bundle, install_snapshot, isolated_home):
    done = frozen.run_frozen(bundle, isolated_home, "gui", "--quit-after", "6")

    assert done.returncode == 0, done.stderr
    shown = re.search(r"showed (\d+) frames", done.stderr)
    assert shown and int(shown.group(1)) > 0, done.stderr


def test_two_instances_share_one_database(bundle, install_snapshot, isolated_home):
    env = frozen.frozen_env(isolated_home)
    runs = [
        subprocess.Popen(
            [str(bundle / "tvdesk"), *PLAY_5_S], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    summaries = [json.loads(run.communicate(timeout=120)[0]) for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    assert len({s["session_id"] for s in summaries}) == 2
    database = Path(summaries[0]["database"])
    _assert_intact(database)
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT status, frames FROM sessions").fetchall()
    assert len(rows) == 2 and all(status != "running" and frames > 0 for status, frames in rows)


def test_frozen_worker_retrains_from_the_local_queue(
    bundle, install_snapshot, isolated_home, tmp_path
):
    with Store() as store:
        camera = support.synthetic_camera(store, isolated_home, bundled_model_path())
        model = Registry(store, isolated_home).version_of(camera)  # the bundled model: v1
        event = support.capture_day_night(model.path, tmp_path / "capture", store)
        base = support.tiny_base_dataset(tmp_path / "base")
        job = request_retrain(
            store, event, tmp_path / "capture", support.tiny_settings(base), camera.id
        )
        open_queue().submit_retrain(job.id)
        with _frozen_worker(bundle, isolated_home) as log:
            # A second instance of the player writes to the same database meanwhile.
            player = frozen.run_frozen(bundle, isolated_home, *PLAY_5_S)
            try:
                done = support.wait_for(store, job.id, lambda j: j.state.finished, JOB_TIMEOUT_S)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nworker log:\n{log.read_text()[-4000:]}") from None

        assert player.returncode == 0, player.stderr
        assert done.state == JobState.SUCCEEDED, f"{done.message}\n{log.read_text()[-4000:]}"
        active = support.camera_version(store, isolated_home)
    assert (active.version, active.parent_id) == ("2", model.id)
    assert OnnxDetector(active.path).names == ["car", "truck", "bus", "motorcycle"]
    assert [v.md5 for v in dataset_versions(isolated_home)] == [done.result["data_md5"]]
    assert done.result["pushed_files"] > 0
    for database in (isolated_home / "tvdesk.db", isolated_home / "queue.db"):
        _assert_intact(database)
    assert "pip install" not in log.read_text()  # nothing tried to install anything


def test_the_install_folder_is_left_as_it_was(bundle, install_snapshot):
    """Read-only bits stop other users; as root they do not, so compare the folder itself."""
    assert _snapshot(bundle) == install_snapshot


@contextlib.contextmanager
def _frozen_worker(bundle: Path, home: Path) -> Iterator[Path]:
    """`tvdesk worker` of the bundle for data folder `home` (it replaces itself with the
    bundle's `tvdesk-worker`); yields its log, stops it after."""
    log_path = home / "worker-frozen.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [str(bundle / "tvdesk"), "worker"],
            env=frozen.frozen_env(home),
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield log_path
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _assert_intact(database: Path) -> None:
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """chmod a-w the whole folder (as an installed copy is), restoring the modes after."""
    modes = {path: path.lstat().st_mode for path in [folder, *folder.rglob("*")]}
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    try:
        for path, mode in modes.items():
            if not stat.S_ISLNK(mode):
                path.chmod(mode & ~writable)
        yield
    finally:
        for path, mode in modes.items():
            if not stat.S_ISLNK(mode):
                path.chmod(stat.S_IMODE(mode))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in folder.rglob("*")
    }
