"""On a short synthetic day clip, the bundled model's counts match the world's true crossings."""

from __future__ import annotations

from tvdesk.core.detector import OnnxDetector
from tvdesk.core.synth import Scenario, Segment, SyntheticCamera
from tvdesk.core.tracking import CountingLine, TrafficCounter
from tvdesk.core.tracking.truth import TrueLineCounts

LINE = CountingLine("road", 60, 320, 620, 320)  # the line of bench/counts.py
SECONDS, FPS = 25.0, 10.0


def test_counted_crossings_match_the_synthetic_truth(bundled_model):
    camera = SyntheticCamera(Scenario("day", (Segment("day", SECONDS),)), fps=FPS, seed=3)
    truth = TrueLineCounts(LINE, camera.renderer.camera)
    counter = TrafficCounter([LINE])
    detector = OnnxDetector(bundled_model)
    for i in range(camera.frame_count):
        truth.update(camera.traffic)
        frame = counter.update(detector.detect(camera.read().image), i / FPS)
    counted = {(name, direction): n for (_, name, direction), n in frame.totals.items()}
    crossings = sum(truth.totals.values())
    assert crossings >= 15, f"the clip should have traffic both ways: {truth.totals}"
    wrong = sum(
        abs(counted.get(k, 0) - truth.totals.get(k, 0)) for k in set(counted) | set(truth.totals)
    )
    assert wrong <= 2, f"counted {counted}, true {truth.totals}"
    for direction in ("in", "out"):
        true_n = sum(n for (_, d), n in truth.totals.items() if d == direction)
        assert abs(sum(n for (_, d), n in counted.items() if d == direction) - true_n) <= 1
