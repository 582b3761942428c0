"""The box decode's exact rewrite (`onnx_graph.last_axis_dfl`) on real Ultralytics exports."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from detector_support import fixed_output_model, synthetic_frames

from tvdesk.config import project_root
from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.training.export import export_onnx
from tvdesk.training.offline import ultralytics_offline
from tvdesk.training.onnx_graph import last_axis_dfl, rewrite_dfl_file

pytest.importorskip("ultralytics", reason="exports need the 'train' extra")

MODELS = project_root() / "resources" / "models"
IMGSZ = 320


def _export(folder: Path, ours: bool) -> Path:
    """The bundled synthetic-world checkpoint exported by Ultralytics as it is, or by
    `export_onnx` (with the rewrite)."""
    folder.mkdir()
    pt = Path(shutil.copy(MODELS / "tvdesk-base.pt", folder / "tvdesk-base.pt"))
    if ours:
        return export_onnx(pt, IMGSZ, dynamic=True)
    yolo = ultralytics_offline().YOLO(str(pt))
    exported = yolo.export(
        format="onnx", imgsz=IMGSZ, dynamic=True, simplify=True, device="cpu", verbose=False
    )
    return Path(exported)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> tuple[Path, Path]:
    """(Ultralytics' own export, ours) of the same checkpoint."""
    root = tmp_path_factory.mktemp("exports")
    return _export(root / "ultralytics", ours=False), _export(root / "ours", ours=True)


def _dfl_ops(path: Path) -> dict[str, str]:
    return {n.name: n.op_type for n in onnx.load(str(path)).graph.node if "/dfl/" in n.name}


@pytest.mark.slow
def test_our_export_decodes_on_the_last_axis_and_detects_exactly_what_ultralytics_export_does(
    exports,
):
    theirs, ours = exports
    assert "/model.22/dfl/conv/Conv" in _dfl_ops(theirs)
    assert _dfl_ops(ours)["/model.22/dfl/MatMul"] == "MatMul"
    assert "/model.22/dfl/conv/Conv" not in _dfl_ops(ours)
    softmax = next(n for n in onnx.load(str(ours)).graph.node if n.op_type == "Softmax")
    assert onnx.helper.get_attribute_value(softmax.attribute[0]) == -1
    meta = [{p.key: p.value for p in onnx.load(str(f)).metadata_props} for f in exports]
    assert meta[0].keys() == meta[1].keys() and meta[0]["names"] == meta[1]["names"]

    frames = synthetic_frames(1280, 720, ("day", "dusk", "night", "fog"))
    for imgsz in (IMGSZ, 480):
        before = OnnxDetector(theirs, imgsz=imgsz)
        after = OnnxDetector(ours, imgsz=imgsz)
        found = 0
        for frame in frames:
            a, b = before.detect(frame), after.detect(frame)
            np.testing.assert_array_equal(a.class_ids, b.class_ids)
            np.testing.assert_allclose(b.xyxy, a.xyxy, rtol=0, atol=1e-3)
            np.testing.assert_allclose(b.scores, a.scores, rtol=0, atol=1e-6)
            found += len(a)
        assert found > 10  # the comparison saw real boxes


def test_a_decode_rewritten_already_is_left_as_it_is(tmp_path, exports):
    copy = Path(shutil.copy(exports[1], tmp_path / "ours.onnx"))
    before = copy.read_bytes()
    assert not rewrite_dfl_file(copy, IMGSZ)
    assert copy.read_bytes() == before


def test_a_graph_without_a_dfl_decode_is_unchanged(tmp_path):
    path = fixed_output_model(
        tmp_path / "plain.onnx", [np.zeros((1, 6, 10), np.float32)], {"names": "{0: 'car'}"}
    )
    model = onnx.load(str(path))
    assert not last_axis_dfl(model)
    assert model.SerializeToString() == onnx.load(str(path)).SerializeToString()


@pytest.mark.parametrize("name", ["tvdesk-base", "tvdesk-traffic"])
def test_the_bundled_models_and_their_int8_copies_carry_the_rewrite(name):
    for path in (MODELS / f"{name}.onnx", int8_path(MODELS / f"{name}.onnx")):
        ops = _dfl_ops(path)
        assert ops["/model.22/dfl/MatMul"] == "MatMul", path
        assert "/model.22/dfl/conv/Conv" not in ops, path
