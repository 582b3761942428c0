"""The detection engine: import it from here.

- `OnnxDetector` (onnx_detector.py) runs one Ultralytics ONNX detection export on BGR frames
  and returns `Detections`, exactly as Ultralytics' own predict would;
- `DetectorSlot` (detector_slot.py) holds the live detector and hot-swaps models between frames;
- the parts: model checks and metadata (onnx_model.py), letterbox (letterbox.py), decode and
  NMS (yolo_output.py);
- a model's int8 copy and its gate as its card records them (int8_copy.py), and which of the
  two files runs on this machine (runtime_choice.py: `runtime_model`).

Nothing here imports Qt, torch or ultralytics.
"""

from tvdesk.core.detector.detections import Detections
from tvdesk.core.detector.onnx_detector import OnnxDetector, RuntimeOptions, StageTimes, Thresholds
from tvdesk.core.detector.onnx_model import DetectorError, ModelInfo
from tvdesk.core.detector.slot import DetectorSlot, SwapCallback, SwapEvent

__all__ = [
    "Detections",
    "DetectorError",
    "DetectorSlot",
    "ModelInfo",
    "OnnxDetector",
    "RuntimeOptions",
    "StageTimes",
    "SwapCallback",
    "SwapEvent",
    "Thresholds",
]
