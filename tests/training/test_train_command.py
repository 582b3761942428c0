"""`tvdesk train` end to end on a tiny set: real Ultralytics training, ONNX export and card."""

from __future__ import annotations

import json

import onnx
import pytest

from tvdesk.cli import main
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

pytest.importorskip("ultralytics", reason="training needs the 'train' extra")


@pytest.mark.slow
def test_train_exports_onnx_with_metadata_and_writes_a_card(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    data = write_dataset(tmp_path / "ds", DatasetSpec(train=8, val=4, width=256, height=144))
    out = tmp_path / "models"
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--name",
            "tiny",
            "--epochs",
            "1",
            "--imgsz",
            "64",
            "--batch",
            "4",
            "--threads",
            "1",
            "--eval",
            f"again={data}",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["tiny.json", "tiny.onnx", "tiny.pt"]
    model = onnx.load(str(out / "tiny.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["task"] == "detect" and "motorcycle" in meta["names"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert not dims[2].HasField("dim_value")  # dynamic height: 16:9 frames run unpadded
    card = json.loads((out / "tiny.json").read_text())
    assert card["class_names"] == ["car", "truck", "bus", "motorcycle"]
    assert set(card["metrics"]) == {"train-val", "again"}
    assert 0.0 <= card["metrics"]["again"]["map50"] <= 1.0
    assert card["training"]["epochs"] == 1 and card["training"]["imgsz"] == 64
    assert (tmp_path / "yolo-config" / "Ultralytics" / "Arial.ttf").exists()  # no font download


def test_a_fine_tune_records_the_stages_that_made_its_starting_point(tmp_path):
    from tvdesk.commands.train import earlier_stages

    first = {"training": {"start_from": "yolov8n.yaml", "epochs": 34}, "metrics": {"day": 0.8}}
    (tmp_path / "one.json").write_text(json.dumps(first))
    (tmp_path / "one.pt").write_bytes(b"weights")
    assert earlier_stages(tmp_path / "one.pt") == [
        {
            "stage": 1,
            "start_from": "yolov8n.yaml",
            "epochs": 34,
            "data": {},
            "metrics": {"day": 0.8},
        }
    ]
    stages = earlier_stages(tmp_path / "one.pt")
    second = {"training": {"start_from": "one.pt", "epochs": 40, "stages": stages}, "metrics": {}}
    (tmp_path / "two.json").write_text(json.dumps(second))
    (tmp_path / "two.pt").write_bytes(b"weights")
    assert [s["stage"] for s in earlier_stages(tmp_path / "two.pt")] == [1, 2]
    assert earlier_stages(tmp_path / "two.pt")[1]["epochs"] == 40
    assert earlier_stages(tmp_path / "nothing.pt") == []  # no card beside it
    assert earlier_stages(tmp_path / "yolov8n.yaml") == []  # from scratch
