"""A model's drift profile: measured on its training images when the model is registered,
and carried in its card under `drift_profile`.

The images are independent snapshots, not a stream, so the profile's thresholds are not
learnt here: a new model inherits the calibration of the model it replaces (both describe
the same camera world in robust sigmas), or gets one from the synthetic world's stable
streams (see the drift benchmark).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tvdesk.core.detector.detections import Detections
from tvdesk.core.drift.calibration import Calibration
from tvdesk.core.drift.features import (
    FEATURES,
    IMAGE_FEATURES,
    MODEL_FEATURES,
    EdgeBackground,
    FrameFeatures,
    detection_features,
    edge_recall,
)
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile, profile_from_features

logger = logging.getLogger(__name__)

CARD_KEY = "drift_profile"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_RECALL = IMAGE_FEATURES.index("edge_recall")
# Compression (JPEG, H.264) removes sensor noise, so stored images cannot show a live
# camera's noise, nor the colour that noise carries at night (measured: a retrained model's
# night mode from captured JPEGs sat 6-10 sigma below the live frames in saturation). Both
# are only compared with a live baseline of the camera itself.
NOT_IN_FILES: tuple[str, ...] = ("noise", "saturation")
# Relit images are named so in a dataset: they are not the camera's frames, so a drift
# profile of the training images leaves them out.
RELIT_PREFIX = "relit_"
# Replayed base images are named so: they are the camera's normal, the condition its live
# background edges are learnt in.
REPLAY_PREFIX = "replay_"


def training_images(folder: Path) -> list[Path]:
    """The camera images under `folder` (a YOLO dataset or a plain folder), in a stable
    order: relit base images are left out, they are not what the camera shows (measured: a
    profile that took 230 of them beside 160 night frames raised a "camera moved" alarm on
    the night it was trained for)."""
    return sorted(
        p
        for p in Path(folder).rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(RELIT_PREFIX)
    )


def training_features(
    folder: Path,
    detect: Callable[[np.ndarray], Detections] | None = None,
    max_images: int | None = None,
) -> np.ndarray:
    """Features (images, FEATURES) of the images under `folder` (at most `max_images`,
    evenly spread); model-side ones need `detect`. Features that stored images cannot show
    (see `NOT_IN_FILES`) are NaN; `edge_recall` is measured against the images' own static
    edges: those of the replayed base images where the folder has them (the camera's normal,
    where a live monitor learns its background), else of all of them. Measured: against
    the static edges of a retraining's whole set, which rounds fill with more night frames
    than day ones, the night's recall centre moved from 0.53 to 0.81 while the live frames,
    measured against the day's edges, stayed near 0.5: a "camera moved" alarm 27 s after
    the swap."""
    paths = training_images(folder)
    if not paths:
        raise ProfileError(f"{folder} holds no images: point at the model's training data")
    if max_images and len(paths) > max_images:
        spread = np.linspace(0, len(paths) - 1, max_images).round().astype(int)
        paths = [paths[i] for i in spread]
    features, background, normal = FrameFeatures(), EdgeBackground(), EdgeBackground()
    rows, edges = [], []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            logger.warning("skipped %s: not a readable image", path)
            continue
        model = (
            detection_features(detect(image)) if detect else np.full(len(MODEL_FEATURES), np.nan)
        )
        rows.append(np.concatenate([features(image), model]))
        edges.append(features.edges.copy())
        background.add(features.edges)
        if path.name.startswith(REPLAY_PREFIX):
            normal.add(features.edges)
    if not rows:
        raise ProfileError(f"none of the images under {folder} could be read")
    static = (normal if normal.frames else background).edges()
    values = np.array(rows)
    values[:, _RECALL] = [edge_recall(e, static) for e in edges]
    values[:, [FEATURES.index(n) for n in NOT_IN_FILES]] = np.nan
    return values


def profile_from_images(
    folder: Path,
    detect: Callable[[np.ndarray], Detections] | None = None,
    calibration: Calibration | None = None,
    source: str | None = None,
    max_images: int | None = None,
) -> ReferenceProfile:
    """The profile of a model's training images (one mode per distinct condition in them).

    Pass the calibration of the model being replaced (`its_profile.calibration`): images are
    snapshots, not a stream, so they cannot calibrate thresholds themselves.
    """
    values = training_features(folder, detect, max_images)
    logger.info("drift profile from %d images under %s", len(values), folder)
    return profile_from_features(
        values,
        FEATURES,
        calibration=calibration,
        source=source or f"training images under {folder}",
    )


def profile_from_card(card: dict, folder: Path | None = None) -> ReferenceProfile | None:
    """The drift profile a model card carries (inline, or as the name of a file in `folder`
    beside the card), or None for a card without one."""
    data = card.get(CARD_KEY)
    if not data:
        return None
    if isinstance(data, str):
        if folder is None:
            raise ProfileError(f"the card names its drift profile {data!r}: give its folder")
        return ReferenceProfile.load(Path(folder) / data)
    return ReferenceProfile.from_dict(data)
