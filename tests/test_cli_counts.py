"""Counting from the command line, end to end on a synthetic clip played as a file: `tvdesk run
--line/--zone` counts without a window and stores the lines with the camera; `tvdesk counts`
reads the counts back in another process (they survive the run's end) as a table or CSV;
every kind of bad input is one error line with exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from media import write_synthetic_clip
from test_cli_run import tvdesk

from tvdesk.cli import main
from tvdesk.core.store import Camera, Store, database_path

ROAD_LINE = "30,160,310,160"  # across all four lanes, 19 m from the camera
BAY = "100,100,220,100,220,170,100,170"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_synthetic_clip(tmp_path_factory.mktemp("clips") / "gate.avi", 16)


def run_json(capsys, *args: str) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def summed(counting: list[dict]) -> dict[tuple[str, str, str], int]:
    return {
        (c["name"], name, direction): n
        for c in counting
        for name, directions in c["counts"].items()
        for direction, n in directions.items()
    }


def test_run_counts_on_lines_and_zones_and_counts_reads_them_back(capsys, clip, bundled_model):
    args = (str(clip), "--every-frame", "--model", str(bundled_model))
    summary = run_json(capsys, *args, "--line", ROAD_LINE, "--zone", BAY)
    [line, zone] = summary["counting"]
    assert (line["name"], line["kind"], line["points"]) == (
        "line-1",
        "line",
        [[30, 160], [310, 160]],
    )
    assert zone["name"] == "zone-1" and len(zone["points"]) == 4
    totals = summed(summary["counting"])
    crossings = sum(n for (name, _, _), n in totals.items() if name == "line-1")
    assert crossings >= 4  # 16 s of traffic on four lanes
    entries = {k[1]: n for k, n in totals.items() if k[0] == "zone-1" and k[2] == "enter"}
    assert entries == {k[1]: n for k, n in totals.items() if k[0] == "zone-1" and k[2] == "exit"}

    video = clip.parent / "counted.avi"  # boxes with track ids, the lines with their totals
    again = run_json(capsys, *args, "--line", ROAD_LINE, "--out", str(video))
    assert [c["name"] for c in again["counting"]] == ["line-1", "zone-1"]  # not stored twice
    assert again["output"] == str(video) and video.stat().st_size > 0
    with Store(database_path()) as store:
        assert len(store.counters.of_camera(store.cameras.named("gate").id)) == 2

    exported = tvdesk("counts", "gate", "--csv", "-")  # another process, after both runs
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    stored: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row["counter"], row["class"], row["direction"])
        stored[key] = stored.get(key, 0) + int(row["count"])
    both_runs = summed(summary["counting"])
    for key, n in summed(again["counting"]).items():
        both_runs[key] = both_runs.get(key, 0) + n
    assert stored == both_runs
    assert {row["model_version"] for row in rows} == {"tvdesk-base"}

    assert main(["counts", "gate", "--since", "2h"]) == 0
    text = capsys.readouterr().out
    assert "camera gate: counts per minute since" in text and "totals:" in text
    assert "  line-1: " in text
    target = clip.parent / "c.csv"
    assert main(["counts", "gate", "--since", "2001-01-01T00:00", "--csv", str(target)]) == 0
    assert target.read_text() == exported.stdout


def test_help_says_how_lines_are_stored_and_what_in_means(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Stored with the camera as line-1, line-2" in text
    assert "'in' is a crossing to the right of the line seen from its start" in text


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tvdesk: error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--line", "1,2,3"), "--line 1,2,3: give x1,y1,x2,y2 in frame pixels"),
        (("--line", "a,b,c,d"), "give x1,y1,x2,y2"),
        (("--line", "50,50,50,50"), "has zero length"),
        (("--zone", "1,1,50,50"), "a zone needs 3 or more corners"),
        (("--zone", "1,1,50,50,9"), "give x,y pairs of its corners"),
        (("--line", "0,100,999,100"), "the point (999, 100) is outside the 320x180 frame"),
    ],
)
def test_a_bad_line_or_zone_is_one_line_and_nothing_runs(capsys, clip, args, says):
    assert main(["run", str(clip), "--every-frame", *args]) == 2
    assert says in one_error_line(capsys)
    with Store(database_path()) as store:
        assert store.db["counters"].count == 0 and store.sessions.all() == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nowhere",), "no camera named 'nowhere'"),
        (("synthetic", "--since", "yesterday"), "--since 'yesterday': give a span"),
        (("synthetic", "--csv", "{tmp}/file.txt/counts.csv"), "choose a file in a folder you"),
    ],
)
def test_bad_counts_arguments_are_one_line(capsys, tmp_path, args, says):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    with Store(database_path()) as store:
        store.cameras.add(Camera("synthetic", "s", "synthetic", "synthetic", "tvdesk-base"))
    assert main(["counts", *(a.format(tmp=tmp_path) for a in args)]) == 2
    assert says in one_error_line(capsys)
