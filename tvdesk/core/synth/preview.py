"""A contact sheet of the synthetic world: the same traffic under each condition, boxes drawn."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from tvdesk.core.synth.conditions import preset
from tvdesk.core.synth.render import SceneRenderer, SynthFrame
from tvdesk.core.synth.vehicles import CLASS_NAMES, sample_traffic

BOX_COLOURS = ((122, 209, 51), (228, 132, 53), (45, 211, 246), (0, 97, 230))


def draw_truth(frame: SynthFrame) -> np.ndarray:
    """The frame with its ground-truth boxes and class names drawn on a copy."""
    img = frame.image.copy()
    for (x1, y1, x2, y2), cls in zip(
        frame.truth.boxes.astype(int), frame.truth.class_ids, strict=True
    ):
        colour = BOX_COLOURS[int(cls) % len(BOX_COLOURS)]
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 1, cv2.LINE_AA)
        if y2 - y1 > 24:
            cv2.putText(
                img,
                CLASS_NAMES[cls],
                (x1, max(10, y1 - 3)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.35,
                colour,
                1,
                cv2.LINE_AA,
            )
    return img


def contact_sheet(conditions: Sequence[str], seed: int = 3, columns: int = 2) -> np.ndarray:
    """One labelled frame per condition, captioned, in a grid."""
    renderer = SceneRenderer()
    traffic = sample_traffic(np.random.default_rng(seed), renderer.camera, 0.7)
    tiles = []
    for name in conditions:
        frame = renderer.render(traffic, preset(name), np.random.default_rng(seed))
        tile = draw_truth(frame)
        caption = f"{name}: {len(frame.truth)} labelled vehicles"
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 26), (20, 20, 20), -1)
        cv2.putText(
            tile, caption, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (240, 240, 240), 1, cv2.LINE_AA
        )
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
