"""Several cameras at once without a window: `tvdesk run A B C` plays them as three cameras
that share the detector fairly, and reports each; options meant for one camera are refused."""

from __future__ import annotations

import json

import pytest
from media import write_synthetic_clip
from test_cli_run import tvdesk

from tvdesk.cli import main
from tvdesk.core.store import Store, database_path


def test_three_sources_play_at_once_as_three_cameras_with_fair_shares(
    tmp_path, capsys, bundled_model
):
    clips = [write_synthetic_clip(tmp_path / f"gate {i}.avi", seconds=6) for i in (1, 2)]
    args = ["run", *map(str, clips), "synthetic:day", "--seconds", "5", "--model"]
    assert main([*args, str(bundled_model), "--json"]) == 0
    summaries = json.loads(capsys.readouterr().out)["cameras"]
    assert [s["camera"] for s in summaries] == ["gate 1", "gate 2", "synthetic"]
    turns = [s["engine"]["turns"] for s in summaries]
    assert all(s["frames"] > 10 for s in summaries)
    assert max(turns) <= 1.2 * min(turns) + 2  # the detector shared evenly
    with Store(database_path()) as store:
        assert len(store.cameras.all()) == 3 and len(store.sessions.all()) == 3


def test_a_stored_camera_plays_again_by_name(tmp_path, capsys, bundled_model):
    clip = write_synthetic_clip(tmp_path / "north.avi", seconds=4)
    assert main(["run", str(clip), "--every-frame", "--model", str(bundled_model)]) == 0
    capsys.readouterr()
    args = ["run", "synthetic:day", "--seconds", "3", "--cameras", "north"]
    assert main([*args, "--model", str(bundled_model), "--json"]) == 0
    summaries = json.loads(capsys.readouterr().out)["cameras"]
    assert {s["camera"] for s in summaries} == {"north", "synthetic"}


@pytest.mark.parametrize(
    "extra", [("--out", "x.mp4"), ("--line", "0,0,10,10"), ("--camera", "gate")]
)
def test_options_for_one_camera_are_refused_with_several(extra):
    result = tvdesk("run", "synthetic:day", "synthetic:night", *extra, "--seconds", "1")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "is for one camera" in lines[0]


def test_no_source_at_all_is_one_line():
    result = tvdesk("run")
    assert result.returncode == 2 and "give a SOURCE" in result.stderr
