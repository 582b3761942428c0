"""The int8 copy of a retraining's new version, made and gated once the version is live.

The register stage puts the new version live in fp32 first, so the minute or so of the copy
is not in the time from approval to a repaired model; the camera's player takes the copy up
when its card records it passed (`ModelFollower` watches the card). Calibrated on the job's
training images (the camera's own frames: the drifted ones and the replayed normal ones), at
the input size the camera runs; gated on the job's held-out sets (its drift val and its base
val) at that size and at the training size; ranges by MinMax, then by percentile where MinMax
fails (`tvdesk.training.int8.make_int8`). The copy is written as `model.int8.onnx` in the
version's folder and its verdict into the card (`Registry.record_int8`). A copy that fails
leaves the version on fp32, never a failed job.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from tvdesk.config import SettingsError, load_settings
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.registry import Registry
from tvdesk.core.session.cameras import input_size
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.retrain.context import JobContext

logger = logging.getLogger(__name__)


def job_int8(ctx: JobContext, registry: Registry, model: ModelVersion) -> None:
    """Make and gate the int8 copy of `model`, the job's new version (live in fp32), and
    record the verdict in its card."""
    from tvdesk.training.int8 import make_int8

    r, camera = ctx.result, ctx.camera()
    data_yaml = Path(r["data_yaml"])
    ctx.progress(0.5, f"version {model.version} is live; making and gating its int8 copy")
    started = time.monotonic()
    verdict = make_int8(
        model.path,
        data_yaml.parent / "images" / "train",
        {"drift": data_yaml, "base": Path(r["base_yaml"])},
        [_camera_imgsz(ctx), ctx.settings.imgsz],
        source=f"training images of job {ctx.id} (camera {camera.name!r})",
        threads=max(1, ctx.settings.threads),
    )
    try:
        registry.record_int8(model, verdict.as_card())
    except (OSError, ValueError) as exc:  # the version plays fp32, as when the copy fails
        logger.warning(
            "%s: the int8 copy's verdict is not recorded, it runs fp32: %s", model.path, exc
        )
        int8_path(model.path).unlink(missing_ok=True)
    ctx.remember(
        int8_passed=verdict.passed,
        int8_reason=verdict.reason,
        int8_seconds=round(time.monotonic() - started, 1),
    )


def _camera_imgsz(ctx: JobContext) -> int:
    """The input size the job's camera runs (its own, else the app's traffic default for a
    real camera), else the training size (the synthetic camera runs its model's own)."""
    try:
        traffic_imgsz = load_settings().traffic_imgsz
    except SettingsError as exc:
        logger.warning("settings unreadable (%s): the int8 copy is gated at the training size", exc)
        return ctx.settings.imgsz
    return input_size(ctx.camera(), traffic_imgsz) or ctx.settings.imgsz
