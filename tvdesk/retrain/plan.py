"""What a retraining of a camera will do and how long it will take, in the operator's terms,
for the alarm banner's plan (its first version, then its refinement rounds); and the one rule
of who labels a real camera's frames."""

from __future__ import annotations

from tvdesk.config import RetrainSettings
from tvdesk.core.session.cameras import input_size
from tvdesk.core.session.events import RetrainPlan
from tvdesk.core.store import Camera
from tvdesk.retrain.rounds import refining

# Fine-tuning time per training image and epoch, YOLOv8n at 320 (rectangular 320x192
# batches, whole model) on one CPU thread of this project's 2-core machines: 45 s an epoch
# of 258 images; a GPU is far faster.
SECONDS_PER_IMAGE_EPOCH = 0.17
# Selection (with its wait for the drifted frames), labelling, dataset, evaluation, export and
# registration: 116 s in the headless demo.
SETUP_SECONDS = 120.0


def settings_for(
    camera: Camera | None, settings: RetrainSettings, traffic_imgsz: int
) -> RetrainSettings:
    """The settings a retraining of `camera` runs with. The oracle (the synthetic world's exact
    labels) cannot label a real camera, so a real camera's frames go to the teacher; and a real
    camera's model is fine-tuned and gated at the input size the camera plays at (its own
    setting, else `traffic_imgsz`): fine-tuned at 320 for a camera playing at 480, the traffic
    model gained real fog at 320 but lost 0.05 mAP50 of it and 0.36 of the camera's day at 480
    (`python -m bench.real_weather --labels import`). It trains on mosaics: a real camera's
    vehicles come in every size anywhere in the view, and rectangular batches of whole frames
    (the synthetic camera's recipe) lost real fog where mosaics gained it
    (`python -m bench.fog_recipe`)."""
    if camera is None or camera.synthetic:
        return settings
    labeler = "teacher" if settings.labeler == "oracle" else None
    return settings.with_changes(
        labeler=labeler, imgsz=input_size(camera, traffic_imgsz), mosaic=True
    )


def retrain_plan(settings: RetrainSettings, frames_available: int | None = None) -> RetrainPlan:
    """The plan of a retraining with `settings`, on at most `frames_available` frames."""
    frames = settings.label_budget
    if frames_available is not None:
        frames = min(frames, frames_available)
    if settings.epochs:
        images = round(frames * (1 - settings.val_fraction)) + settings.replay
        scale = (settings.imgsz / 320) ** 2
        training = images * settings.epochs * SECONDS_PER_IMAGE_EPOCH * scale
    else:
        training = settings.train_minutes * 60
    refine = refining(settings)
    return RetrainPlan(
        settings.labeler,
        frames,
        settings.epochs,
        settings.imgsz,
        SETUP_SECONDS + training,
        settings.train_minutes,
        refine_minutes=settings.refine_minutes if refine else 0.0,
        round_minutes=settings.round_minutes if refine else 0.0,
        round_min_gain=settings.round_min_gain if refine else 0.0,
    )
