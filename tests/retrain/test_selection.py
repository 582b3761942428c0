"""Active-learning selection on the demo's own stream: the bundled model on night falling."""

from __future__ import annotations

import cv2

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.detector.detections import Detections
from tvdesk.core.session.capture import CapturedFrame
from tvdesk.core.synth.camera import SyntheticCamera
from tvdesk.demo.headless import demo_scenario
from tvdesk.retrain.selection import select_frames

FPS = 10.0
DAY_S, FADE_S, NIGHT_S = 2.0, 5.0, 10.0


def test_frames_of_full_night_are_chosen_as_often_as_frames_of_nightfall(bundled_model, tmp_path):
    """Consecutive night frames differ little in grey levels (the scene is dark) while every
    frame of the fall of night differs from the last in brightness; judged on raw grey
    levels, the selection took 84 % of the nightfall frames and 33 % of the night ones, and
    the retrained model learnt dusk rather than night."""
    camera = SyntheticCamera(demo_scenario(DAY_S, FADE_S), FPS, 0, 320, 180)
    frames = []
    for index in range(round((DAY_S + FADE_S + NIGHT_S) * FPS)):
        path = tmp_path / f"{index:04d}.jpg"
        cv2.imwrite(str(path), camera.read().image)
        frames.append(CapturedFrame(index, index / FPS, path, Detections(), None, {}, (320, 180)))
    nightfall_from, night_from = round(DAY_S * FPS), round((DAY_S + FADE_S) * FPS)
    drifted = frames[nightfall_from:]
    detector = OnnxDetector(bundled_model, threads=1)
    chosen = [s.frame.index for s in select_frames(drifted, detector, budget=len(drifted) // 2)]
    share_of_nightfall = sum(i < night_from for i in chosen) / (night_from - nightfall_from)
    share_of_night = sum(i >= night_from for i in chosen) / (len(frames) - night_from)
    assert share_of_night >= share_of_nightfall
