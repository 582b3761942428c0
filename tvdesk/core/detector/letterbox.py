"""Letterbox a frame into a YOLO model's input exactly as Ultralytics does, and map boxes back.

Exactness matters: the same file must give the same boxes here as in Ultralytics, so the
rounding below (and the float32 arithmetic of `boxes_to_frame`) copies Ultralytics' `LetterBox`
and `scale_boxes` step by step, including Python's round-half-to-even.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

PAD_VALUE = 114  # Ultralytics' grey
PIXEL_SCALE = np.float32(255)
# uint8 -> float32 in [0, 1]; each entry is exactly x / 255 in float32, as torch computes it
_NORMALISE = (np.arange(256, dtype=np.float32) / PIXEL_SCALE).reshape(1, 256)


def fit_to_stride(size: int, stride: int) -> int:
    """Round an image size up to a multiple of the stride, as Ultralytics' `check_imgsz`."""
    return max(-(-size // stride) * stride, stride)


@dataclass(frozen=True)
class Letterbox:
    """Where a frame of `frame_hw` lands in a model input of `input_hw` (both height, width)."""

    frame_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_wh: tuple[int, int]
    top: int
    bottom: int
    left: int
    right: int

    @classmethod
    def fit(
        cls, frame_hw: tuple[int, int], target_hw: tuple[int, int], stride: int | None = None
    ) -> Letterbox:
        """Scale to fit `target_hw` and pad; with `stride`, pad only to a multiple of it.

        The stride form is Ultralytics' `auto=True`: a 16:9 frame at imgsz 320 becomes 320x192
        instead of 320x320, which only a model with dynamic input shape accepts.
        """
        h, w = int(frame_hw[0]), int(frame_hw[1])
        ratio = min(target_hw[0] / h, target_hw[1] / w)
        new_w, new_h = max(round(w * ratio), 1), max(round(h * ratio), 1)
        pad_w, pad_h = target_hw[1] - new_w, target_hw[0] - new_h
        if stride:
            pad_w, pad_h = pad_w % stride, pad_h % stride
        half_w, half_h = pad_w / 2, pad_h / 2
        top, bottom = round(half_h - 0.1), round(half_h + 0.1)
        left, right = round(half_w - 0.1), round(half_w + 0.1)
        return cls(
            frame_hw=(h, w),
            input_hw=(new_h + top + bottom, new_w + left + right),
            resized_wh=(new_w, new_h),
            top=top,
            bottom=bottom,
            left=left,
            right=right,
        )

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The letterboxed BGR uint8 image (resized with bilinear interpolation, grey padding).

        The frame is resized straight into the padded image, so the pixels are those of
        Ultralytics' resize-then-pad without the second copy (a tenth of a millisecond of the
        detector's overhead on a 720p frame).
        """
        new_w, new_h = self.resized_wh
        resize = frame.shape[1::-1] != self.resized_wh
        if not (self.top or self.bottom or self.left or self.right):
            return (
                cv2.resize(frame, self.resized_wh, interpolation=cv2.INTER_LINEAR)
                if resize
                else frame
            )
        image = np.full((*self.input_hw, 3), PAD_VALUE, np.uint8)
        inner = image[self.top : self.top + new_h, self.left : self.left + new_w]
        if resize:
            cv2.resize(frame, self.resized_wh, dst=inner, interpolation=cv2.INTER_LINEAR)
        else:
            inner[...] = frame
        return image

    def to_tensor(self, frame: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Letterbox a BGR uint8 frame into a [1, 3, H, W] RGB tensor scaled to [0, 1].

        The planes are split into one uint8 buffer (red first) and scaled by a single lookup:
        two OpenCV calls where a plane at a time took four, and each call after an inference
        runs with its code evicted from the cache by the model.
        """
        height, width = self.input_hw
        planes = np.empty((3 * height, width), np.uint8)
        blue, green, red = planes[2 * height :], planes[height : 2 * height], planes[:height]
        cv2.split(self.apply(frame), [blue, green, red])  # BGR -> RGB
        tensor = np.empty((1, 3, height, width), np.float32)
        cv2.LUT(planes, _NORMALISE, dst=tensor.reshape(3 * height, width))
        return tensor if dtype == np.float32 else tensor.astype(dtype)

    def boxes_to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Map float32 xyxy boxes (in place) from model input pixels to frame pixels, clipped.

        Computed as Ultralytics' `scale_boxes` does: the gain and padding are re-derived from
        the two shapes, and the arithmetic stays in float32 (each step on all four columns
        at once, with per-column float32 constants worked out once per letterbox).
        """
        offset, gain, limit = self._box_mapping
        xyxy -= offset
        xyxy /= gain
        np.clip(xyxy, 0, limit, out=xyxy)
        return xyxy

    @cached_property
    def _box_mapping(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(padding, gain, frame size) per xyxy column, as float32 rows."""
        (h0, w0), (h1, w1) = self.frame_hw, self.input_hw
        ratio = min(h1 / h0, w1 / w0)
        new_h, new_w = max(round(h0 * ratio), 1), max(round(w0 * ratio), 1)
        pad_x, pad_y = round((w1 - new_w) / 2 - 0.1), round((h1 - new_h) / 2 - 0.1)
        gain_x, gain_y = np.float32(new_w / w0), np.float32(new_h / h0)
        return (
            np.array([pad_x, pad_y, pad_x, pad_y], np.float32),
            np.array([gain_x, gain_y, gain_x, gain_y], np.float32),
            np.array([w0, h0, w0, h0], np.float32),
        )
