"""The model registry: model versions as folders on disk plus their rows in the store.

A model line is a family of versions (`name`), each with its parent: the bundled synthetic-world
model and the bundled traffic model start two lines, and a camera's retraining adds a version
to its camera's line. Each version lives in `models/<name>/<version>/` (model.onnx, model.pt,
card.json and the drift reference profile of its training data; model.int8.onnx when it has
an int8 copy whose gate its card records: a bundled model's `<stem>.int8.onnx` is copied in at
registration, a retrained version's is made after it went live and added by `record_int8`).
A version folder is assembled under a hidden staging name and renamed into place, so a kill at
any moment leaves either no new version or a whole one. Which version plays is each camera's
(`Camera.model_id`), so activation and rollback act on one camera and are one transaction.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tvdesk.config import default_data_dir
from tvdesk.core import atomic
from tvdesk.core.detector import DetectorError, OnnxDetector
from tvdesk.core.detector.int8_copy import CARD_KEY as INT8_CARD_KEY
from tvdesk.core.detector.int8_copy import int8_path
from tvdesk.core.drift.model_profile import profile_from_card, profile_from_images
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.core.store import Camera, Store
from tvdesk.core.store.model_version import ModelVersion

logger = logging.getLogger(__name__)

ONNX_NAME, PT_NAME, CARD_NAME, PROFILE_NAME = "model.onnx", "model.pt", "card.json", "profile.json"
INT8_NAME = int8_path(Path(ONNX_NAME)).name
STAGING_PREFIX = ".staging-"
VERSION_ATTEMPTS = 5
PROFILE_MAX_IMAGES = 400  # enough for a robust centre and scale; keeps registration quick
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class RegistryError(RuntimeError):
    """A model version cannot be registered, found or activated; the message says why."""


@dataclass(frozen=True)
class Candidate:
    """What a training run hands to the registry."""

    onnx: Path
    pt: Path
    card: dict[str, Any]
    data_md5: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    train_images: Path | None = None  # its training images, for the drift reference profile


class Registry:
    """Model versions of the app data folder; `store` is the same database the UI reads."""

    def __init__(self, store: Store, data_dir: Path | None = None) -> None:
        self.store = store
        self.root = (data_dir or default_data_dir()) / "models"

    def base_version(self, onnx: Path) -> ModelVersion:
        """The first version of the line that the model file `onnx` starts (named after the
        file), registered from the file on first use."""
        versions = self.store.models.all(Path(onnx).stem)
        return versions[0] if versions else self._register_bundled(Path(onnx))

    def version_of(self, camera: Camera) -> ModelVersion:
        """The version `camera` runs."""
        if camera.model_id is None:
            raise RegistryError(f"camera {camera.name!r} has no model version yet")
        return self.get(camera.model_id)

    def versions(self, line: str | None = None) -> list[ModelVersion]:
        return self.store.models.all(line)

    def get(self, model_id: int) -> ModelVersion:
        return self.store.models.get(model_id)

    def register(
        self,
        name: str,
        candidate: Candidate,
        *,
        parent_id: int | None,
        activate_for: int | None = None,
        first_of_line: bool = False,
    ) -> ModelVersion:
        """Validate `candidate.onnx` in the detector, write the version folder, add the row;
        with `activate_for`, that camera runs the new version from now on. With
        `first_of_line`, a line that got its first version meanwhile (another process) keeps
        that one, and it is returned."""
        names = validate_onnx(candidate.onnx)
        parent_profile = self._profile_of(parent_id)
        for _ in range(VERSION_ATTEMPTS):  # another job may register on this line at once
            version = self._next_version(name)
            try:
                folder = self._write_folder(name, version, candidate, names, parent_profile)
                break
            except _VersionTaken:
                logger.info("%s version %s was taken meanwhile: trying the next", name, version)
        else:
            raise RegistryError(
                f"could not find a free version number for {name} in {VERSION_ATTEMPTS} tries"
            )
        model = ModelVersion(
            name=name,
            version=version,
            path=folder / ONNX_NAME,
            data_md5=candidate.data_md5,
            params=candidate.params,
            metrics=candidate.metrics,
            parent_id=parent_id,
        )
        try:
            added = self.store.models.add(model, first_of_line=first_of_line)
            if added.path != model.path:  # the line's first version came from another process
                shutil.rmtree(folder, ignore_errors=True)
                return added
            model = added
            if activate_for is not None:
                self.store.cameras.set_model(activate_for, model.id)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        logger.info(
            "registered %s version %s%s",
            name,
            version,
            f" for camera {activate_for}" if activate_for is not None else "",
        )
        return model

    def activate(self, camera_id: int, model_id: int) -> ModelVersion:
        """Make camera `camera_id` run version `model_id` of its own line."""
        camera, model = self.store.cameras.get(camera_id), self.get(model_id)
        if model.name != camera.line:
            raise RegistryError(
                f"{model.name} version {model.version} is not on camera {camera.name!r}'s "
                f"line ({camera.line}); `tvdesk models list` shows each line's versions"
            )
        if not model.path.exists():
            raise RegistryError(
                f"the files of {model.name} version {model.version} are missing "
                f"({model.path}); activate another version"
            )
        self.store.cameras.set_model(camera_id, model_id)
        return model

    def rollback(self, camera_id: int) -> ModelVersion:
        """Make camera `camera_id` run the parent of the version it runs."""
        camera = self.store.cameras.get(camera_id)
        model = self.version_of(camera)
        if model.parent_id is None:
            raise RegistryError(
                f"{model.name} version {model.version} has no earlier version "
                "to roll back to; `tvdesk models list` shows them all"
            )
        return self.activate(camera_id, model.parent_id)

    def record_int8(self, model: ModelVersion, entry: dict[str, Any]) -> None:
        """Record the gate of `model`'s int8 copy (`entry`, the card's `int8` entry; the copy
        itself, when there is one, already at `model.int8.onnx` beside its ONNX) in its card, the
        last step: the player runs a copy only where the card says it passed with its checksum.
        A copy that does not load is removed and recorded as failed."""
        copy = int8_path(model.path)
        if entry.get("file"):
            try:
                validate_onnx(copy)
                entry = {**entry, "file": INT8_NAME}
            except RegistryError as exc:
                copy.unlink(missing_ok=True)
                entry = {**entry, "file": None, "passed": False, "reason": str(exc)}
        card_file = model.path.with_name(CARD_NAME)
        card = json.loads(card_file.read_text())
        atomic.write_text(card_file, json.dumps({**card, INT8_CARD_KEY: entry}, indent=2) + "\n")
        logger.info(
            "%s version %s: int8 copy %s",
            model.name,
            model.version,
            "recorded" if entry.get("passed") else f"refused, it runs fp32 ({entry.get('reason')})",
        )

    def remove_staging(self) -> list[Path]:
        """Delete folders left by a registration that was killed half-way."""
        leftovers = sorted(self.root.glob(f"*/{STAGING_PREFIX}*"))
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
        return leftovers

    def _register_bundled(self, onnx: Path) -> ModelVersion:
        if not onnx.exists():
            raise RegistryError(f"the bundled model {onnx} is missing: reinstall tvdesk")
        card_path = onnx.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        data = card.get("data", {})
        candidate = Candidate(
            onnx,
            onnx.with_suffix(".pt"),
            card,
            data_md5=data.get("dvc_md5", ""),
            params=card.get("training", {}),
            metrics=card.get("metrics", {}),
        )
        return self.register(onnx.stem, candidate, parent_id=None, first_of_line=True)

    def _profile_of(self, model_id: int | None) -> ReferenceProfile | None:
        """The drift profile of `model_id`: its fine-tuned child inherits its thresholds."""
        if model_id is None:
            return None
        try:
            profile = version_profile(self.get(model_id))
        except (ProfileError, OSError, ValueError) as exc:
            logger.warning("version %s has no readable drift profile: %s", model_id, exc)
            return None
        return profile

    def _next_version(self, name: str) -> str:
        """One more than the highest version of `name` registered or with a folder."""
        numbers = [int(m.version) for m in self.store.models.all(name) if m.version.isdigit()]
        line = self.root / name
        if line.is_dir():
            numbers += [int(p.name) for p in line.iterdir() if p.name.isdigit()]
        return str(max(numbers, default=0) + 1)

    def _write_folder(
        self,
        name: str,
        version: str,
        candidate: Candidate,
        names: list[str],
        parent_profile: ReferenceProfile | None,
    ) -> Path:
        target = self.root / name / version
        if target.exists():
            raise _VersionTaken(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target.parent))
        try:
            atomic.copy_file(candidate.onnx, staging / ONNX_NAME)
            if candidate.pt.exists():
                atomic.copy_file(candidate.pt, staging / PT_NAME)
            card = {**candidate.card, "name": name, "version": version, "class_names": names}
            if _copy_int8(candidate.onnx, staging / INT8_NAME) and INT8_CARD_KEY in card:
                card[INT8_CARD_KEY] = {**card[INT8_CARD_KEY], "file": INT8_NAME}
            if candidate.train_images is not None:
                reference_profile(candidate.train_images, staging / ONNX_NAME, parent_profile).save(
                    staging / PROFILE_NAME
                )
                card["drift_profile"] = PROFILE_NAME
            atomic.write_text(staging / CARD_NAME, json.dumps(card, indent=2) + "\n")
            try:
                staging.rename(target)
            except OSError as exc:
                if target.exists():  # another registration took this number first
                    raise _VersionTaken(target) from exc
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target


class _VersionTaken(Exception):  # noqa: N818 - control flow: try the next version number
    """The version folder exists already (a registration of another process took it)."""


def _copy_int8(onnx: Path, target: Path) -> bool:
    """Copy the int8 copy of `onnx`, if it has one that loads, to `target`; whether it did.
    One that does not load is left out (the version runs fp32), never a failed registration."""
    source = int8_path(onnx)
    if not source.is_file():
        return False
    try:
        validate_onnx(source)
    except RegistryError as exc:
        logger.warning("%s is not registered, the version runs fp32: %s", source, exc)
        return False
    atomic.copy_file(source, target)
    return True


def pt_path(model: ModelVersion) -> Path:
    """The PyTorch checkpoint beside a version's ONNX file (what fine-tuning starts from)."""
    path = model.path.with_name(PT_NAME)
    if not path.exists():
        raise RegistryError(
            f"{model.name} version {model.version} has no .pt checkpoint "
            f"({path}); fine-tuning needs one: activate a version that has it"
        )
    return path


def validate_onnx(path: Path) -> list[str]:
    """Load `path` in the player's detector and run one frame; returns its class names."""
    try:
        detector = OnnxDetector(path, threads=1)
        detector.detect(np.full((360, 640, 3), 114, np.uint8))
    except DetectorError as exc:
        raise RegistryError(f"the exported model does not load in the detector: {exc}") from exc
    return list(detector.names)


def version_profile(model: ModelVersion) -> ReferenceProfile | None:
    """The drift reference profile a version's card carries, or None without one."""
    card_path = model.path.with_name(CARD_NAME)
    if not card_path.exists():  # the bundled model before registration
        card_path = model.path.with_suffix(".json")
    if not card_path.exists():
        return None
    return profile_from_card(json.loads(card_path.read_text()), card_path.parent)


def reference_profile(
    images: Path, onnx: Path, parent: ReferenceProfile | None
) -> ReferenceProfile:
    """The drift profile of a new version: its training images as its own detector sees them,
    with the thresholds of the version it replaces (images cannot calibrate a stream test) and
    that version's spread as a floor (see `ReferenceProfile.widened_to`)."""
    detector = OnnxDetector(onnx, threads=1)
    try:
        profile = profile_from_images(
            images,
            detector.detect,
            calibration=parent.calibration if parent else None,
            source=f"training images of {onnx.parent.name}",
            max_images=PROFILE_MAX_IMAGES,
        )
    except ProfileError as exc:
        raise RegistryError(f"no drift profile from the training images: {exc}") from exc
    return profile.widened_to(parent) if parent else profile
