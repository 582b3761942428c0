"""Fault injection on the disk: a full disk (a real tmpfs as root; a file size limit, or a
free-space reading of the disk, for any user), a read-only disk, a folder where a file should
be, a database page overwritten, a run killed with -9. Each asserts the exit code, the one
error line and that no earlier file or row was lost."""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from disk_faults import corrupt_table_page, error_line, fill, noise_video, tmpfs, tvdesk
from media import kill_9_after_rows, wait_for_rows, write_video

from tvdesk.cli import main
from tvdesk.config import settings_path
from tvdesk.core.store import Store, database_path

MB = 1024 * 1024
TVDESK_RUN = [sys.executable, "-m", "tvdesk.cli", "run"]
Usage = collections.namedtuple("Usage", "total used free")


@pytest.fixture(scope="module")
def noise(tmp_path_factory) -> Path:
    """60 random 640x480 frames: about 4 MB of annotated mp4, more than the full disk holds."""
    return noise_video(tmp_path_factory.mktemp("noise") / "noise.avi", frames=60)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_video(tmp_path / "clip.avi", frames=60, size=(160, 120))


def settings(**values: object) -> None:
    settings_path().write_text("".join(f"{k} = {v!r}\n" for k, v in values.items()))


def no_hidden_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def playable_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return frames


# -- 1. a full disk never destroys the annotated video ------------------------------------


def first_then_longer_run(noise, out, model, **limits) -> tuple[bytes, object]:
    """A short run that writes `out`, then a longer one into the same name on a disk that
    cannot hold it; the first video's bytes and the second run."""
    first = tvdesk("run", str(noise), "--seconds", "0.4", "--out", str(out), "--model", model)
    assert first.returncode == 0, first.stderr
    kept = out.read_bytes()
    second = tvdesk(
        "run", str(noise), "--every-frame", "--out", str(out), "--model", model, **limits
    )
    return kept, second


@pytest.mark.parametrize("fault", ["tmpfs", "file size limit"])
def test_a_full_disk_keeps_the_earlier_video_and_exits_non_zero(
    fault, noise, tmp_path, bundled_model
):
    settings(min_free_mb=0)  # reach the writer's own fault, not the free-space check
    folder = tmp_path / "out"
    folder.mkdir()
    limits = {"file_size_limit": 3 * MB} if fault == "file size limit" else {}
    with tmpfs(folder, "3m") if fault == "tmpfs" else contextlib.nullcontext(folder) as full:
        kept, second = first_then_longer_run(noise, full / "cam.mp4", str(bundled_model), **limits)
        assert second.returncode == 2, second.stderr
        line = error_line(second)
        assert "unreadable" in line and f"the earlier {full / 'cam.mp4'} was kept" in line
        assert (full / "cam.mp4").read_bytes() == kept and playable_frames(full / "cam.mp4") > 0
        assert no_hidden_files(full)


def test_out_onto_an_existing_folder_is_one_line_before_the_run(clip, tmp_path, bundled_model):
    (tmp_path / "cam.mp4").mkdir()
    started = time.monotonic()
    out = tmp_path / "cam.mp4"
    result = tvdesk("run", str(clip), "--out", str(out), "--model", str(bundled_model))
    assert result.returncode == 2 and "is a folder" in error_line(result)
    assert time.monotonic() - started < 20 and out.is_dir()
    assert no_hidden_files(tmp_path)


def test_out_on_a_read_only_disk_is_one_line(clip, tmp_path, bundled_model):
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as folder:
        result = tvdesk("run", str(clip), "--out", str(folder / "cam.mp4"))
    assert result.returncode == 2
    assert "cannot write a video to" in error_line(result)


def test_out_on_a_read_only_disk_without_root(clip, tmp_path, capsys, monkeypatch):
    """The same fault, from a file layer that answers EROFS for the output folder."""
    real_open = os.open
    folder = tmp_path / "ro"
    folder.mkdir()

    def read_only(path, flags, *args, **kwargs):
        if Path(path).parent == folder and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr("os.open", read_only)
    assert main(["run", str(clip), "--out", str(folder / "cam.mp4")]) == 2
    assert "Read-only file system" in capsys.readouterr().err


def test_annotated_videos_respect_the_umask(clip, tmp_path, bundled_model):
    out = tmp_path / "cam.avi"
    result = subprocess.run(
        [*TVDESK_RUN, str(clip), "--every-frame", "--out", str(out), "--model", str(bundled_model)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o644


# -- free space: checked before and during a recording ------------------------------------


def fake_free_space(monkeypatch, free_mb, then_mb: float | None = None, after_calls: int = 0):
    """The disk layer reports `free_mb` MB free, and `then_mb` once asked `after_calls` times
    (the checks before the run; the first check during it, a second in, finds less)."""
    calls = itertools.count()

    def usage(path):
        late = then_mb is not None and next(calls) >= after_calls
        free = (then_mb if late else free_mb) * MB
        return Usage(10_000 * MB, 10_000 * MB - free, free)

    monkeypatch.setattr("shutil.disk_usage", usage)


def test_too_little_free_space_stops_a_run_before_it_records(
    clip, tmp_path, capsys, monkeypatch, isolated_home, bundled_model
):
    out = tmp_path / "cam.avi"
    out.write_bytes(b"an earlier video")
    fake_free_space(monkeypatch, 150)  # the default min_free_mb is 200
    assert main(["run", str(clip), "--out", str(out), "--model", str(bundled_model)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("tvdesk: error: only 150 MB free") and "min_free_mb" in line
    assert out.read_bytes() == b"an earlier video" and no_hidden_files(tmp_path)
    assert not database_path(isolated_home).exists()


def test_free_space_running_low_during_a_run_stops_it_and_keeps_what_was_written(
    clip, capsys, monkeypatch, isolated_home, bundled_model
):
    fake_free_space(monkeypatch, 5000, then_mb=150, after_calls=2)  # start, writer
    assert main(["run", str(clip), "--model", str(bundled_model)]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("tvdesk: error: session 1 stopped: a write to the database failed")
    assert "only 150 MB free" in line and "keeps everything written before" in line
    with Store(database_path(isolated_home)) as store:
        assert store.db["detection_samples"].count >= 1  # written before the disk ran low


def test_free_space_running_low_keeps_the_earlier_video(
    clip, tmp_path, capsys, monkeypatch, bundled_model
):
    out = tmp_path / "cam.avi"
    out.write_bytes(b"an earlier video")
    fake_free_space(monkeypatch, 5000, then_mb=150, after_calls=3)  # video, start, writer
    assert main(["run", str(clip), "--out", str(out), "--model", str(bundled_model)]) == 2
    assert "only 150 MB free" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier video" and no_hidden_files(tmp_path)


# -- 2. the database on a full disk --------------------------------------------------------


@pytest.fixture
def data_on_tmpfs(tmp_path, isolated_home):
    """The data folder on an 80 MB tmpfs (a clip's camera registers the traffic model and the
    synthetic camera the synthetic one, about 22 MB each with their int8 copies), the
    free-space check off so that SQLite itself meets the full disk."""
    with tmpfs(tmp_path / "data", "80m") as data:
        settings(data_dir=str(data), min_free_mb=0)
        yield data


def test_a_database_write_lost_to_a_full_disk_stops_the_run(data_on_tmpfs, clip, bundled_model):
    model = str(bundled_model)
    assert tvdesk("run", str(clip), "--every-frame", "--model", model).returncode == 0
    run = subprocess.Popen(
        [*TVDESK_RUN, "synthetic:day", "--every-frame", "--seconds", "60", "--model", model],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_rows(run, data_on_tmpfs / "tvdesk.db", "sessions", 2) == 2
        filler = fill(data_on_tmpfs)
        stderr = run.communicate(timeout=60)[1]
    finally:
        run.kill()
    assert run.returncode == 2, stderr
    line = stderr.strip().splitlines()[-1]
    assert "session 2 stopped" in line and "is full" in line and "move it aside" not in line
    filler.unlink()
    with Store(data_on_tmpfs / "tvdesk.db") as store:
        first = store.sessions.get(1)
        assert (first["status"], first["frames"]) == ("ended", 60)
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_already_full_data_folder_says_free_space_not_move_the_database(
    data_on_tmpfs, clip, bundled_model
):
    assert tvdesk("run", str(clip), "--every-frame", "--model", str(bundled_model)).returncode == 0
    fill(data_on_tmpfs)
    result = tvdesk("jobs", "list")
    line = error_line(result)
    assert result.returncode == 2
    assert f"the disk holding {data_on_tmpfs} is full" in line and "itself is fine" in line
    assert "move it aside" not in line


# -- 4. a damaged database -----------------------------------------------------------------


def test_a_database_with_a_corrupt_page_is_one_line(isolated_home):
    path = database_path(isolated_home)
    with Store(path) as store:
        for i in range(3):
            store.jobs.create("retrain", {"n": i})
    corrupt_table_page(path, "jobs")
    result = tvdesk("jobs", "list")
    assert result.returncode == 2
    line = error_line(result)
    assert f"the database {path} is damaged" in line and "move it aside" in line
    with Store(path) as store:  # the rest of the file still opens
        assert store.sessions.all() == []


# -- 6. a killed run ----------------------------------------------------------------------


def test_a_killed_run_is_marked_interrupted_on_the_next_start(clip, isolated_home, bundled_model):
    model = str(bundled_model)
    run = subprocess.Popen(
        [*TVDESK_RUN, "synthetic:day", "--every-frame", "--model", model],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = kill_9_after_rows(run, database_path(isolated_home), "frame_stats", 2)
    assert seen >= 2 and run.returncode == -signal.SIGKILL
    assert tvdesk("run", str(clip), "--every-frame", "--model", model).returncode == 0
    with Store(database_path(isolated_home)) as store:
        killed, second = store.sessions.get(1), store.sessions.get(2)
    assert killed["status"] == "interrupted" and killed["frames"] > 0 and killed["ended"]
    assert second["status"] == "ended"


def test_a_session_of_a_live_process_is_never_marked_interrupted(isolated_home):
    with Store(database_path(isolated_home)) as store:
        mine = store.sessions.start("a", "file", "1")
        store.sessions.start("b", "file", "1")
        assert store.sessions.get(mine)["status"] == "running"
