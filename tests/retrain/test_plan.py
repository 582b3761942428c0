"""Who labels a camera's retraining and how it trains: the synthetic camera as its settings
say, a real camera by the teacher (never the oracle), on mosaics, at the size it plays at."""

from __future__ import annotations

from tvdesk.config import RetrainSettings
from tvdesk.core.store import Camera
from tvdesk.core.store.camera import SYNTHETIC_KIND, DetectionSettings
from tvdesk.retrain.plan import retrain_plan, settings_for

SYNTHETIC = Camera(SYNTHETIC_KIND, SYNTHETIC_KIND, SYNTHETIC_KIND, SYNTHETIC_KIND, "tvdesk")
REAL = Camera("gate", "gate.mp4", "file:gate.mp4", "file", "tvdesk-traffic")


def test_the_synthetic_camera_keeps_its_settings():
    settings = RetrainSettings(labeler="oracle", imgsz=320)
    assert settings_for(SYNTHETIC, settings, 480) == settings
    assert settings_for(None, settings, 480) == settings


def test_a_real_camera_is_labelled_by_the_teacher_on_mosaics_at_the_size_it_plays_at():
    chosen = settings_for(REAL, RetrainSettings(labeler="oracle", imgsz=320), 480)
    assert (chosen.labeler, chosen.imgsz, chosen.mosaic) == ("teacher", 480, True)
    assert not settings_for(SYNTHETIC, RetrainSettings(), 480).mosaic


def test_a_real_camera_with_its_own_size_trains_at_that_size_with_the_labels_asked_for():
    camera = Camera(
        "yard", "yard.mp4", "file:yard.mp4", "file", "tvdesk-traffic",
        detection=DetectionSettings(imgsz=640),
    )  # fmt: skip
    chosen = settings_for(camera, RetrainSettings(labeler="import", import_dir="x"), 480)
    assert (chosen.labeler, chosen.imgsz) == ("import", 640)


def test_the_plan_of_a_larger_size_takes_longer():
    at_320 = retrain_plan(RetrainSettings(epochs=5, imgsz=320))
    at_480 = retrain_plan(settings_for(REAL, RetrainSettings(epochs=5, imgsz=320), 480))
    assert at_480.imgsz == 480
    assert at_480.expected_seconds > at_320.expected_seconds
