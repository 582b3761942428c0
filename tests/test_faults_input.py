"""Bad input as a new user types it: malformed addresses (for sources and the job queue) and
settings files that are not text, not a file, or hold a value of the wrong type. Each is one
error line with a non-zero exit that names what is wrong, and never shows a password."""

from __future__ import annotations

import pytest

from tvdesk.cli import main
from tvdesk.config import RetrainSettings, Settings, SettingsError, load_settings, settings_path

BAD_ADDRESSES = {
    "port not a number": ("rtsp://u:pw@127.0.0.1:notaport/x", "the port must be a number"),
    "port out of range": ("rtsp://u:pw@127.0.0.1:70000/x", "the port must be a number"),
    "open IPv6 bracket": ("rtsp://u:pw@[::1/x", "an IPv6 host goes in brackets"),
    "snapshot, open bracket": ("http://u:pw@[::1/x.jpg", "an IPv6 host goes in brackets"),
    "snapshot, bad port": ("snapshot+http://u:pw@h:99999/cgi", "the port must be a number"),
}


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tvdesk: error: "), lines
    assert "pw@" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("case", BAD_ADDRESSES)
def test_a_malformed_source_address_is_one_line(case, capsys):
    url, says = BAD_ADDRESSES[case]
    assert main(["run", url, "--seconds", "1"]) == 2
    line = one_error_line(capsys)
    assert "is not a valid address" in line and says in line and ":***@" in line


@pytest.mark.parametrize(
    "url",
    ["redis://:pw@127.0.0.1:notaport/0", "redis://:pw@127.0.0.1:70000/0", "redis://:pw@[::1/0"],
)
def test_a_malformed_queue_address_is_one_line(url, capsys, monkeypatch):
    monkeypatch.setenv("TVDESK_QUEUE", url)
    assert main(["worker"]) == 2
    line = one_error_line(capsys)
    assert "TVDESK_QUEUE" in line and "is not a valid address" in line


BAD_FILES = {
    "not UTF-8": (b"confidence = 0.3 # caf\xe9\n", "is not UTF-8 text"),
    "infinite rate": (b"synthetic_fps = inf\n", "synthetic_fps must be a finite number"),
    "fractional threads": (b"inference_threads = 1.5\n", "inference_threads must be a whole"),
    "a number for a table": (b"retrain = 5\n", "retrain must be a [retrain] table"),
    "text for a number": (b'confidence = "high"\n', "confidence must be a number, got 'high'"),
    "true for a number": (b"confidence = true\n", "confidence must be a number, not true"),
    "text in the table": (b'[retrain]\nepochs = "4"\n', "retrain.epochs must be a whole number"),
    "a number for a path": (b"data_dir = 3\n", "data_dir must be a path in quotes"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_settings_file_is_one_line_naming_the_file_and_the_key(case, capsys):
    text, says = BAD_FILES[case]
    settings_path().write_bytes(text)
    assert main(["retrain", "--event", "1", "--no-worker"]) == 2
    line = one_error_line(capsys)
    assert str(settings_path()) in line and says in line


def test_a_settings_file_that_is_a_folder_is_one_line(capsys):
    settings_path().mkdir()
    assert main(["jobs", "list"]) == 2
    assert "is a folder, not a settings file" in one_error_line(capsys)


def test_typed_settings_keep_their_api(isolated_home):
    settings_path().write_text("confidence = 0.4\nsynthetic_fps = 12\n[retrain]\nepochs = 3\n")
    settings = load_settings()
    assert (settings.confidence, settings.synthetic_fps, settings.retrain.epochs) == (0.4, 12, 3)
    with pytest.raises(SettingsError, match="iou must be a number"):
        Settings(iou="0.5")
    with pytest.raises(SettingsError, match=r"retrain\.batch must be a whole number"):
        RetrainSettings().with_changes(batch=2.5)
