"""`tvdesk run` end to end: real files, the real clips, a real MJPEG stream, every kind of bad
input as one error line, and a kill -9 mid-run that leaves a readable database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from media import MjpegCamera, kill_9_after_rows, write_video

from tvdesk.cli import main
from tvdesk.core.store import Store, database_path

REAL_CLIPS = {  # name: frames OpenCV decodes (some containers report more)
    "cctv_highway_day_bgs_video02.avi": 748,
    "overhead_day_intel_car-detection.mp4": 377,
    "dashcam_city_day_tmo_seattle1.mp4": 1010,
    "dashcam_night_tmo.mp4": 1079,
}


def tvdesk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real command in its own process (so its stderr is exactly what a user sees)."""
    return subprocess.run(
        [sys.executable, "-m", "tvdesk.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def run_json(capsys, *args: str) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = 0
    while cap.read()[0]:
        frames += 1
    return frames, size


def test_run_plays_every_frame_records_it_and_writes_a_playable_video(
    tmp_path, capsys, bundled_model
):
    clip = write_video(tmp_path / "clip.avi", frames=30, fps=15.0, size=(320, 180))
    out = tmp_path / "annotated.mp4"
    summary = run_json(
        capsys, str(clip), "--every-frame", "--model", str(bundled_model), "--out", str(out)
    )
    assert summary["stopped_by"] == "end of source"
    assert (summary["frames"], summary["dropped"]) == (30, 0)
    assert summary["output"] == str(out) and count_frames(out) == (30, (320, 180))
    assert not list(tmp_path.glob(".annotated*"))  # no temporary file left behind
    with Store(database_path()) as store:
        session = store.sessions.get(summary["session_id"])
    assert (session["status"], session["frames"]) == ("ended", 30)


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_CLIPS)
def test_run_on_each_real_clip_processes_every_decodable_frame(
    realdata, tmp_path, capsys, bundled_model, name
):
    out = tmp_path / f"{Path(name).stem}.mp4"
    summary = run_json(
        capsys,
        str(realdata / "videos" / name),
        "--every-frame",
        "--model",
        str(bundled_model),
        "--out",
        str(out),
    )
    assert summary["frames"] == REAL_CLIPS[name] and summary["dropped"] == 0
    assert count_frames(out)[0] == REAL_CLIPS[name]
    short = [e for e in summary["events"] if e["kind"] == "short"]
    assert bool(short) == (name != "overhead_day_intel_car-detection.mp4")


def test_run_plays_what_a_truncated_clip_holds_and_says_so(
    realdata, tmp_path, capsys, bundled_model
):
    real = (realdata / "videos" / "overhead_day_intel_car-detection.mp4").read_bytes()
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(real[: len(real) // 8])  # its index is at the start: it still opens
    decodable, size = count_frames(clip)
    out = tmp_path / "cut-annotated.avi"
    summary = run_json(
        capsys, str(clip), "--every-frame", "--model", str(bundled_model), "--out", str(out)
    )
    assert 0 < summary["frames"] == decodable < 377
    assert count_frames(out) == (decodable, size)
    [note] = summary["events"]
    assert note["kind"] == "short"
    assert f"reports 377 frames but only {decodable}" in note["message"]


def test_run_a_live_stream_for_a_while_and_never_store_its_password(capsys, bundled_model):
    camera = MjpegCamera(fps=20.0).start()
    url = camera.url.replace("http://", "http://viewer:s3cret@")
    try:
        summary = run_json(capsys, url, "--seconds", "1.5", "--model", str(bundled_model))
    finally:
        camera.cut()
    assert summary["kind"] == "stream" and summary["stopped_by"] == "time limit"
    assert summary["frames"] >= 3 and summary["size"] == [320, 240]
    with Store(database_path()) as store:
        stored = store.sessions.get(summary["session_id"])["source"]
    assert stored == summary["source"] == url.replace("s3cret", "***")


@pytest.fixture(scope="module")
def camera():
    camera = MjpegCamera().start()
    yield camera
    camera.cut()


BAD_INPUTS = {
    "missing file": (lambda d, c: [str(d / "nope.mp4")], "not found"),
    "not a video": (lambda d, c: [_text_file(d)], "does not recognise it as a video"),
    "truncated": (lambda d, c: [_truncated(d)], "cut.mp4"),
    "no webcam": (lambda d, c: ["99"], "no webcam at index 99"),
    "unreachable": (lambda d, c: ["rtsp://admin:pw@127.0.0.1:9/live"], "cannot reach"),
    "not a stream": (lambda d, c: [c.page_url], "is not a video stream"),
    "live every-frame": (lambda d, c: [c.url, "--every-frame"], "--every-frame needs a file"),
    "bad model": (lambda d, c: [_text_file(d), "--model", str(d / "none.onnx")], None),
    "bad scenario": (lambda d, c: ["synthetic:moon"], "unknown scenario"),
    "no output folder": (
        lambda d, c: ["synthetic", "--out", str(d / "no" / "x.mp4")],
        "does not exist",
    ),
}


def _text_file(folder: Path) -> str:
    path = folder / "notes.mp4"
    path.write_text("meeting notes\n" * 200)
    return str(path)


def _truncated(folder: Path) -> str:
    real = Path(__file__).resolve().parents[2] / "shared/realdata/videos/dashcam_night_tmo.mp4"
    if not real.exists():
        pytest.skip("real clips absent")
    cut = folder / "cut.mp4"
    cut.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    return str(cut)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_error_line_and_a_non_zero_exit(tmp_path, camera, case):
    make_args, expected = BAD_INPUTS[case]
    started = time.monotonic()
    result = tvdesk("run", *make_args(tmp_path, camera), timeout=30)
    assert time.monotonic() - started < 30
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("tvdesk: error: "), result.stderr
    assert "pw@" not in lines[0]
    if expected:
        assert expected in lines[0]


def test_kill_9_mid_run_leaves_a_readable_database(tmp_path, isolated_home, bundled_model):
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tvdesk.cli",
            "run",
            "synthetic:day",
            "--every-frame",
            "--model",
            str(bundled_model),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    path = isolated_home / "tvdesk.db"
    seen = kill_9_after_rows(run, path, "frame_stats", 2)
    assert seen >= 2, "the run wrote no stats in time"
    with Store(path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        [session] = store.sessions.all()
        stats = store.sessions.stats(session["id"])
        samples = store.sessions.samples(session["id"])
    assert session["status"] == "running" and session["ended"] is None
    assert len(stats) >= seen and sum(s["frames"] for s in stats) > 0
    assert samples and all(s["counts"] is not None for s in samples)
