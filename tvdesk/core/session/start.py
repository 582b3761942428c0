"""Start a live session whose detector slot already holds the model of the first camera it
will play, so that camera's first frame needs no swap: how the GUI, `tvdesk run` and the demo
all begin."""

from __future__ import annotations

import threading
from pathlib import Path

from tvdesk.config import Settings
from tvdesk.core.detector import DetectorSlot, OnnxDetector
from tvdesk.core.detector.runtime_choice import runtime_model
from tvdesk.core.free_space import SpaceGuard
from tvdesk.core.registry import Registry
from tvdesk.core.session import cameras
from tvdesk.core.session.live import LiveSession
from tvdesk.core.sources import SourceInfo
from tvdesk.core.store import Store
from tvdesk.core.store.connection import database_path

SLOT_WAIT_S = 60.0  # how long a finished int8 timing waits for the slot it is for


def start_session(
    settings: Settings,
    info: SourceInfo,
    *,
    camera: str | None = None,
    model: Path | None = None,
    time_int8_in_background: bool = False,
    **options: object,
) -> LiveSession:
    """A live session whose slot starts on the version of `info`'s camera (its int8 copy where
    that runs faster here: `runtime_model`; or on `model`, an override kept for every camera),
    so its first frame needs no swap. With `time_int8_in_background` (a window opening a
    camera) a first timing of the int8 copy does not hold the caller: the slot starts on the
    fp32 model and the int8 copy is swapped in when it wins. `options` go to
    `LiveSession` (approver, auto_approve, drift_config, poll_s). A camera whose reference
    cannot be read fails here, before any model loads; so does a data folder whose disk has
    less than `min_free_mb` free (DiskSpaceError)."""
    SpaceGuard(settings.data_dir, settings.min_free_mb, "recording").require()
    override, imgsz = model is not None, None
    made: list[DetectorSlot] = []
    slot_made = threading.Event()

    def swap_in_later(chosen: Path) -> None:  # on the timing thread
        if chosen != version.path and slot_made.wait(SLOT_WAIT_S) and made:
            made[0].load_and_swap(chosen, imgsz=imgsz, replacing=version.path)

    with Store(database_path(settings.data_dir)) as store:
        registry = Registry(store, settings.data_dir)
        base = cameras.BaseModels(settings.model_path, settings.traffic_model_path)
        found = cameras.open_camera(store, registry, info, base, camera)
        version = registry.version_of(found)
        cameras.drift_reference(found, None if override else version, settings.data_dir)
        if model is None:
            imgsz = cameras.input_size(found, settings.traffic_imgsz)
            model = runtime_model(
                version.path,
                imgsz,
                settings.data_dir,
                threads=settings.inference_threads,
                when_measured=swap_in_later if time_int8_in_background else None,
            )
    try:
        detector = OnnxDetector(
            model,
            conf=settings.confidence,
            iou=settings.iou,
            threads=settings.inference_threads,
            imgsz=imgsz,
        )
        made.append(DetectorSlot(detector))
    finally:
        slot_made.set()  # a slot that failed to load leaves the timing nothing to swap
    return LiveSession(made[0], settings, model_override=override, **options)
