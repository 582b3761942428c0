"""Which camera a source is, and what its drift is tested against: one rule for the GUI,
`tvdesk run` and the demo.

Opening a source reuses its camera (by name when one is given, else by its source) or creates
one: the synthetic camera starts on the synthetic-world model's line, a real camera on the
traffic model's. The synthetic camera is tested against its model's training profile; a real
camera against its own persisted baseline (learnt once, then kept in the camera's folder) plus
the conditions its retrainings learnt, never against a model's synthetic profile.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tvdesk.core.detector import DetectorSlot, SwapEvent
from tvdesk.core.detector.runtime_choice import runtime_model
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.core.registry import Registry, RegistryError, version_profile
from tvdesk.core.session.model_follower import same_file
from tvdesk.core.sources import SourceInfo
from tvdesk.core.store import Camera, Store, StoreError
from tvdesk.core.store.camera import SYNTHETIC_KIND
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

CAMERAS_FOLDER = "cameras"
PATH_KINDS = ("file", "images")  # sources named by a path on this machine
REFERENCE_PREFIX = "reference"


class CameraError(StoreError):
    """A camera cannot be found or its reference cannot be used; the message says what to do."""


@dataclass(frozen=True)
class BaseModels:
    """The model files that start the lines of new cameras."""

    synthetic: Path
    traffic: Path

    def for_kind(self, kind: str) -> Path:
        return self.synthetic if kind == SYNTHETIC_KIND else self.traffic


def source_key(info: SourceInfo) -> str:
    """What identifies a source across runs: a file's absolute path, a webcam's index, a
    stream's URL without its credentials, the synthetic camera."""
    if info.kind == SYNTHETIC_KIND:
        return SYNTHETIC_KIND
    if info.kind in PATH_KINDS and " + " not in info.name:
        return f"{info.kind}:{Path(info.name).expanduser().resolve()}"
    if "://" in info.name:
        parts = urlsplit(info.name)
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"{info.kind}:{urlunsplit((parts.scheme, host, parts.path, '', ''))}"
    return f"{info.kind}:{info.name}"


def default_name(info: SourceInfo) -> str:
    """A short name for a new camera: the file's name, the stream's host and path..."""
    if info.kind == SYNTHETIC_KIND:
        return SYNTHETIC_KIND
    if "://" in info.name:
        parts = urlsplit(info.name)
        return (parts.hostname or "stream") + parts.path.rstrip("/")
    if info.kind in PATH_KINDS and " + " not in info.name:
        return Path(info.name).stem or info.name
    return info.name


def find_camera(store: Store, name: str) -> Camera:
    """The camera named `name`; CameraError with the names there are when there is none."""
    camera = store.cameras.named(name)
    if camera is None:
        names = ", ".join(c.name for c in store.cameras.all()) or "none yet"
        raise CameraError(f"no camera named {name!r} (cameras: {names}); `tvdesk cameras list`")
    return camera


def open_camera(
    store: Store,
    registry: Registry,
    info: SourceInfo,
    base_models: BaseModels,
    name: str | None = None,
) -> Camera:
    """The camera that plays `info`: the one named `name` (created if new), else the one of
    this source, else a new camera on its kind's base model line."""
    camera = store.cameras.named(name) if name else store.cameras.with_source(source_key(info))
    if camera is None:
        base = registry.base_version(base_models.for_kind(info.kind))
        try:
            camera = store.cameras.add(
                Camera(
                    name=name or _free_name(store, default_name(info)),
                    source=info.name,
                    source_key=source_key(info),
                    kind=info.kind,
                    line=base.name,
                    model_id=base.id,
                )
            )
        except StoreError:  # another instance opened this source as a camera at this moment
            found = (
                store.cameras.named(name) if name else store.cameras.with_source(source_key(info))
            )
            if found is None:
                raise
            return found
        logger.info("new camera %r for %s on %s", camera.name, info.name, base.name)
    elif camera.model_id is None:
        base = registry.base_version(base_models.for_kind(camera.kind))
        camera = store.cameras.set_model(camera.id, base.id)
    return camera


def _free_name(store: Store, wanted: str) -> str:
    candidates = itertools.chain([wanted], (f"{wanted} ({n})" for n in itertools.count(2)))
    return next(n for n in candidates if store.cameras.named(n) is None)


def input_size(camera: Camera, traffic_imgsz: int) -> int | None:
    """The detector input size `camera` runs at: its own setting, else the traffic default for
    a real camera, else (the synthetic camera) the model's export size."""
    if camera.detection.imgsz is not None:
        return camera.detection.imgsz
    return None if camera.synthetic else traffic_imgsz


def put_in_slot(
    slot: DetectorSlot,
    camera: Camera,
    version: ModelVersion | None,
    imgsz: int | None,
    data_dir: Path | None = None,
    *,
    time_int8_in_background: bool = False,
) -> SwapEvent | None:
    """Swap `version` (at `imgsz`) into `slot` unless it is there already, and apply the
    camera's thresholds; the swap's outcome, or None when none was needed. With `data_dir`
    the version's int8 copy runs where `runtime_model` chooses it; with
    `time_int8_in_background` a first timing of the two does not hold the caller (a window
    opening a camera): the fp32 model plays, and the int8 copy is swapped in once it has
    measured faster, if the fp32 model still plays then."""
    swap = None
    if version is not None:
        path = fp32 = version.path

        def swap_in(chosen: Path) -> None:  # on the timing thread
            if chosen != fp32:
                slot.load_and_swap(chosen, imgsz=imgsz, replacing=fp32)

        if data_dir is not None:
            options = slot.current.options
            path = runtime_model(
                path,
                imgsz,
                data_dir,
                threads=options.threads,
                frame_hw=slot.current.last_frame_hw,
                when_measured=swap_in if time_int8_in_background else None,
            )
        if not (same_file(slot, path) and slot.current.options.imgsz == imgsz):
            swap = slot.load_and_swap(path, imgsz=imgsz)
    detection, names = camera.detection, slot.current.names
    changes: dict[str, object] = {"classes": None}
    if detection.classes is not None:
        changes["classes"] = tuple(i for i, n in enumerate(names) if n in detection.classes)
    if detection.confidence is not None:
        changes["conf"] = detection.confidence
    slot.set_thresholds(**changes)
    return swap


def camera_folder(data_dir: Path, camera: Camera) -> Path:
    return data_dir / CAMERAS_FOLDER / str(camera.id)


def drift_reference(
    camera: Camera, version: ModelVersion | None, data_dir: Path
) -> ReferenceProfile | None:
    """What `camera`'s drift is tested against: the synthetic camera's model profile, or a real
    camera's persisted reference; None when it must first learn its baseline."""
    if camera.synthetic:
        if version is None:
            return None
        try:
            return version_profile(version)
        except (ProfileError, RegistryError, OSError, ValueError) as exc:
            logger.warning("no drift profile for %s (%s); learning a baseline", version.name, exc)
            return None
    if not camera.reference:
        return None
    path = camera_folder(data_dir, camera) / camera.reference
    try:
        return ReferenceProfile.load(path)
    except (OSError, ValueError) as exc:
        raise CameraError(
            f"the drift baseline of camera {camera.name!r} ({path}) cannot be read ({exc}); "
            f"learn it again with `tvdesk cameras relearn {camera.name}` (the file is kept)"
        ) from exc


def save_reference(
    store: Store, data_dir: Path, camera: Camera, profile: ReferenceProfile
) -> Camera:
    """Persist `profile` as `camera`'s reference (a new file; the old one is kept until the
    store points at the new one, so a kill leaves either)."""
    folder = camera_folder(data_dir, camera)
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [_number(p.stem) for p in folder.glob(f"{REFERENCE_PREFIX}-*.json")]
    path = folder / f"{REFERENCE_PREFIX}-{max(numbers, default=0) + 1}.json"
    profile.save(path)
    updated = store.cameras.set_reference(camera.id, path.name)
    if camera.reference and camera.reference != path.name:
        (folder / camera.reference).unlink(missing_ok=True)
    return updated


def forget_reference(store: Store, camera: Camera) -> Camera:
    """Make `camera` learn its baseline again the next time it plays (files are kept)."""
    return store.cameras.set_reference(camera.id, "")


def _number(stem: str) -> int:
    tail = stem.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0
