"""The int8 copy of a retraining's candidate, made and gated in its register stage.

Calibrated on the job's training images (the camera's own frames: the drifted ones and the
replayed normal ones), at the input size the camera runs; gated on the job's held-out sets
(its drift val and its base val) at that size and at the training size. The verdict goes into
the new version's card; the copy, `<stem>.int8.onnx` beside the candidate ONNX, is copied into
the version folder by the registry. A copy that fails leaves the version on fp32, never a
failed job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tvdesk.config import SettingsError, load_settings
from tvdesk.core.session.cameras import input_size
from tvdesk.retrain.context import JobContext

logger = logging.getLogger(__name__)


def job_int8(ctx: JobContext, onnx: Path) -> dict:
    """Make and gate the int8 copy of the job's exported candidate; its card entry."""
    from tvdesk.training.int8 import make_int8

    r, camera = ctx.result, ctx.camera()
    data_yaml = Path(r["data_yaml"])
    ctx.progress(0.3, "making and gating the int8 copy")
    verdict = make_int8(
        onnx,
        data_yaml.parent / "images" / "train",
        {"drift": data_yaml, "base": Path(r["base_yaml"])},
        [_camera_imgsz(ctx), ctx.settings.imgsz],
        source=f"training images of job {ctx.id} (camera {camera.name!r})",
        threads=max(1, ctx.settings.threads),
    )
    ctx.remember(int8_passed=verdict.passed, int8_reason=verdict.reason)
    return verdict.as_card()


def _camera_imgsz(ctx: JobContext) -> int:
    """The input size the job's camera runs (its own, else the app's traffic default for a
    real camera), else the training size (the synthetic camera runs its model's own)."""
    try:
        traffic_imgsz = load_settings().traffic_imgsz
    except SettingsError as exc:
        logger.warning("settings unreadable (%s): the int8 copy is gated at the training size", exc)
        return ctx.settings.imgsz
    return input_size(ctx.camera(), traffic_imgsz) or ctx.settings.imgsz
