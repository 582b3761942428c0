"""Find the webcams this machine has, by trying the first few device indices."""

from __future__ import annotations

import cv2

from tvdesk.core.sources.open import silence_native_video_logs

MAX_INDEX = 6


def find_webcams(max_index: int = MAX_INDEX) -> list[int]:
    """Indices that open and deliver a frame; slow devices are skipped, never waited on long."""
    silence_native_video_logs()
    found = []
    for index in range(max_index):
        capture = cv2.VideoCapture(index)
        try:
            if capture.isOpened() and capture.read()[0]:
                found.append(index)
        finally:
            capture.release()
    return found
