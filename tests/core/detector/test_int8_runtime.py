"""Which file the player runs: the bundled int8 copies passed their gates (their cards say so,
and the files are the ones gated); a copy runs only where it passed and measures faster on
this CPU, the answer is remembered per machine, model and size; anything else runs fp32."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from tvdesk.config import resources_dir
from tvdesk.core.atomic import sha256_of
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector import runtime_choice as choice
from tvdesk.core.detector.int8_copy import fp32_path, gated_int8, int8_path
from tvdesk.core.detector.onnx_model import model_version
from tvdesk.core.detector.runtime_choice import (
    CHOICES_FILE,
    MAX_INT8_RATIO,
    choice_key,
    cpu_name,
    int8_cpu,
    read_choices,
    runtime_model,
)

MODELS = resources_dir() / "models"
GATED = {"tvdesk-traffic": [480, 320], "tvdesk-base": [320]}
vnni = pytest.mark.skipif(not int8_cpu()[0], reason="this CPU has no int8 dot product (VNNI)")


@pytest.mark.parametrize("name", sorted(GATED))
def test_the_bundled_int8_copies_passed_their_gates(name):
    model = MODELS / f"{name}.onnx"
    entry = json.loads(model.with_suffix(".json").read_text())["int8"]
    assert entry["passed"] and entry["file"] == f"{name}.int8.onnx" == int8_path(model).name
    assert entry["sha256"] == sha256_of(int8_path(model))
    assert entry["imgsz"] == GATED[name] and entry["calibration"]["frames"] >= 64
    for key, m in entry["map50"].items():
        assert m["fp32"] - m["int8"] <= entry["tolerance"] == 0.01, key
    assert {key.rpartition("@")[2] for key in entry["map50"]} == {str(s) for s in GATED[name]}
    detector = OnnxDetector(int8_path(model))
    assert (detector.precision, detector.version) == ("int8", name)
    assert int8_path(model).stat().st_size < 4.5e6  # the GUI installer's part is near its limit
    for size in GATED[name]:
        assert gated_int8(model, size) == (int8_path(model), "")


@pytest.fixture
def version(tmp_path):
    """The traffic model as a version folder: model.onnx, model.int8.onnx and card.json."""
    folder = tmp_path / "tvdesk-traffic" / "1"
    folder.mkdir(parents=True)
    shutil.copy(MODELS / "tvdesk-traffic.onnx", folder / "model.onnx")
    shutil.copy(MODELS / "tvdesk-traffic.int8.onnx", folder / "model.int8.onnx")
    card = json.loads((MODELS / "tvdesk-traffic.json").read_text())
    card |= {"name": "tvdesk-traffic", "version": "1"}
    (folder / "card.json").write_text(json.dumps(card))
    return folder / "model.onnx"


def test_names_of_an_int8_copy():
    model = MODELS / "tvdesk-traffic.onnx"
    assert int8_path(model) == MODELS / "tvdesk-traffic.int8.onnx"
    assert fp32_path(int8_path(model)) == model and fp32_path(model) == model
    assert model_version(int8_path(model)) == model_version(model) == "tvdesk-traffic"


@vnni
def test_the_int8_copy_runs_where_it_passed_and_measures_faster(version, isolated_home):
    assert runtime_model(version, 480, isolated_home) == int8_path(version)
    (key, measured), *others = read_choices(isolated_home).items()
    assert not others and key == choice_key(cpu_name(), version, int8_path(version), 480, 1)
    assert measured["choice"] == "int8" and measured["ratio"] <= MAX_INT8_RATIO
    assert measured["int8_ms"] < measured["fp32_ms"]
    assert model_version(int8_path(version)) == "tvdesk-traffic v1"


@vnni
def test_the_choice_is_remembered_per_machine_model_and_size(version, isolated_home):
    runtime_model(version, 480, isolated_home)
    path = isolated_home / CHOICES_FILE
    choices = json.loads(path.read_text())
    (key,) = choices
    assert cpu_name() in key and "imgsz 480" in key and "1 threads" in key
    choices[key]["choice"] = "fp32"  # as if fp32 had measured faster here
    path.write_text(json.dumps(choices))
    assert runtime_model(version, 480, isolated_home) == version  # read, not measured again
    assert runtime_model(version, 320, isolated_home) == int8_path(version)
    assert len(read_choices(isolated_home)) == 2
    other = version.with_name("other.onnx")
    shutil.copy(MODELS / "tvdesk-base.onnx", other)
    assert choice_key("cpu", other, int8_path(version), 480, 1) != choice_key(
        "cpu", version, int8_path(version), 480, 1
    )


def _card(version):
    return json.loads(version.with_name("card.json").read_text())


def _write_card(version, card) -> None:
    version.with_name("card.json").write_text(json.dumps(card))


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("failed gate", "failed its gate"),
        ("size not gated", "not at 640"),
        ("file replaced", "checksum differs"),
        ("file missing", "is missing"),
        ("no verdict", "no int8 copy"),
    ],
)
def test_fp32_runs_where_the_int8_copy_may_not(case, why, version, isolated_home):
    card, imgsz, int8 = _card(version), 480, int8_path(version)
    if case == "failed gate":
        _write_card(version, card | {"int8": card["int8"] | {"passed": False, "reason": "x"}})
    elif case == "size not gated":
        imgsz = 640
    elif case == "file replaced":
        shutil.copy(MODELS / "tvdesk-base.int8.onnx", int8)
    elif case == "file missing":
        int8.unlink()
    else:
        _write_card(version, {k: v for k, v in card.items() if k != "int8"})
    assert why in gated_int8(version, imgsz)[1]
    assert runtime_model(version, imgsz, isolated_home) == version
    assert not (isolated_home / CHOICES_FILE).exists()  # nothing measured


def test_fp32_runs_on_a_cpu_without_int8_dot_products(version, isolated_home, monkeypatch, caplog):
    """A stand-in for hardware we lack: an x86 CPU without VNNI, where the copy's uint8 x int8
    products may saturate (the gate was measured with VNNI)."""
    monkeypatch.setattr(choice.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(choice, "_cpu_flags", lambda: {"avx2", "fma"})
    with caplog.at_level(logging.INFO, logger=choice.__name__):
        assert runtime_model(version, 480, isolated_home) == version
    assert "no int8 dot product" in caplog.text
    assert not (isolated_home / CHOICES_FILE).exists()


def test_an_int8_copy_that_does_not_run_here_means_fp32(version, isolated_home, caplog):
    int8 = int8_path(version)
    int8.write_bytes(b"not a model")
    card = _card(version)
    _write_card(version, card | {"int8": card["int8"] | {"sha256": sha256_of(int8)}})
    if not int8_cpu()[0]:
        pytest.skip("this CPU has no int8 dot product (VNNI): the copy is never tried")
    with caplog.at_level(logging.WARNING):
        assert runtime_model(version, 480, isolated_home) == version
    (measured,) = read_choices(isolated_home).values()
    assert measured["choice"] == "fp32" and "not an ONNX model" in measured["reason"]
    assert "cannot run here" in caplog.text


@vnni
def test_an_unreadable_or_unwritable_choices_file_costs_a_measurement_not_a_start(
    version, isolated_home, tmp_path, caplog
):
    (isolated_home / CHOICES_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert runtime_model(version, 480, isolated_home) == int8_path(version)
    assert "measuring again" in caplog.text and len(read_choices(isolated_home)) == 1
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    with caplog.at_level(logging.WARNING):
        assert runtime_model(version, 480, not_a_folder) == int8_path(version)
    assert "will be timed again next time" in caplog.text
