"""The retraining stages: select -> label -> dataset -> train -> evaluate -> register.

Each stage reads what the earlier ones left in the job's result and work folder, and adds its
own; `run_stage` records failures and cancels in the store. After a promotion the stages run
again, round after round (`rounds.py`). Ultralytics is imported only by the train, evaluate
and register stages (through `tvdesk.training`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tvdesk.core.detector.onnx_detector import OnnxDetector
from tvdesk.core.registry import Candidate, Registry, pt_path
from tvdesk.core.session.capture import (
    FRAMES_FOLDER,
    CaptureError,
    event_frames,
    keep_frames,
    load_frame,
    stored_indices,
)
from tvdesk.core.store import Camera
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.retrain import rounds
from tvdesk.retrain.camera_base import camera_base_dataset
from tvdesk.retrain.context import JobContext, job_frames
from tvdesk.retrain.dataset import (
    LabelledImage,
    app_base_dataset,
    app_data_repo,
    assemble_dataset,
    base_train_images,
    boxes_per_class,
    class_loss_weights,
    labelled_objects,
    push_dataset,
    retrain_dataset_folder,
    version_dataset,
)
from tvdesk.retrain.gate import GateDecision, best_share, decide, held_in_score
from tvdesk.retrain.job_int8 import job_int8
from tvdesk.retrain.labelers import (
    ImportLabeler,
    Labeler,
    LabelError,
    OracleLabeler,
    ReviewLabeler,
    TeacherLabeler,
    teacher_lines,
)
from tvdesk.retrain.relight import (
    BACKGROUND_SAMPLES,
    NotRelightable,
    Relighting,
    relighting,
    spread,
)
from tvdesk.retrain.review_folder import job_review_folder
from tvdesk.retrain.selection import select_frames
from tvdesk.retrain.teacher import EnsembleTeacher, TeacherSettings

logger = logging.getLogger(__name__)

SELECTION_FILE, LABELS_FILE = "selection.json", "labels.json"
CANDIDATES_PER_LABEL = 2  # frames the selection chooses from, per frame it labels
COLLECT_WAIT_S = 90.0  # the longest a job waits for a holding alarm's frames to be captured
COLLECT_POLL_S = 2.0
DOUBTS_KEPT = 20  # doubtful frames the job's result lists, with the teacher's reasons
MIN_BOXES_PER_FRAME = 0.1  # fewer labelled boxes than this per chosen frame: nothing to train on
# A time-budgeted fine-tune plans this many epochs until the first one is timed.
EPOCHS_BEFORE_TIMING = 10
# Blends of the fine-tune with the active model's weights that the evaluation measures, in
# order, after a fine-tune that gained on the drifted data (`_choose_blend`).
BLEND_WEIGHTS = (0.9, 0.8, 0.7)
# Scale jitter of a fine-tune on one camera's frames: +-25 %, not Ultralytics' +-50 %
# (measured, 6 min on 108 night frames and 150 day ones: held-out day mAP50 0.865 instead of
# 0.850, night the same 0.59).
FINE_TUNE_SCALE = 0.25
# With mosaics (a real camera: vehicles of every size anywhere in the view), Ultralytics' own.
MOSAIC_SCALE = 0.5


def select(ctx: JobContext) -> None:
    own = job_frames(ctx.data_dir, ctx.id)
    if ctx.round == 1:
        indices = _event_frames(ctx, own)
    else:
        indices = rounds.collect(ctx, own, CANDIDATES_PER_LABEL * ctx.settings.label_budget)
    frames = [load_frame(own, i) for i in indices]
    detector = _active_detector(ctx)
    chosen = select_frames(
        frames,
        detector,
        ctx.settings.label_budget,
        lambda done, total: _every(ctx, done, total, "scoring frames"),
    )
    rows = [
        {"index": s.frame.index, "uncertainty": s.uncertainty, "disagreement": s.disagreement}
        for s in chosen
    ]
    (ctx.workspace / rounds.round_file(SELECTION_FILE, ctx.round)).write_text(json.dumps(rows))
    ctx.remember(candidates=len(frames), selected=len(rows))


def _event_frames(ctx: JobContext, own: Path) -> list[int]:
    """Round 1: the drift event's frames, linked into the job's folder `own`."""
    ctx.drift_event()  # an event missing from the database fails here, before any work
    _prepare_replay_set(ctx)
    event, indices = _drifted_frames(ctx)
    indices = keep_frames(ctx.capture_dir, indices, own)
    if not indices:
        raise LabelError(f"no captured frames of drift event {event.id} in {ctx.capture_dir}")
    rounds.begin(ctx, own, indices)
    return indices


def _prepare_replay_set(ctx: JobContext) -> None:
    """Make the base dataset now if the dataset stage will need it: the first job does it
    while the drifted frames are still coming in, not after."""
    _base_yaml(ctx)


def _base_yaml(ctx: JobContext) -> Path:
    """The base data the job replays against forgetting and the gate measures the loss on:
    the settings' own set, else the synthetic world's for the synthetic camera, else a real
    camera's normal frames labelled by the teacher (built once, then reused)."""
    if ctx.settings.base_data_yaml is not None:
        return ctx.settings.base_data_yaml
    camera = ctx.camera()
    if camera.synthetic:
        return app_base_dataset(
            ctx.data_dir,
            lambda done, total: _every(ctx, done, total, "rendering the base images for replay"),
        )
    teacher, version = _teacher(ctx), ctx.active_version()
    return camera_base_dataset(
        ctx.data_dir,
        camera,
        teacher.teacher.names,
        lambda image: teacher_lines(teacher, image),
        f"teacher of {version.name} v{version.version}",
        lambda done, total: _every(ctx, done, total, "labelling the camera's normal frames"),
    )


def _drifted_frames(ctx: JobContext):
    """The event's captured frames; while its alarm holds and they are fewer than
    CANDIDATES_PER_LABEL x the label budget, wait (up to COLLECT_WAIT_S) for more to come."""
    wanted = CANDIDATES_PER_LABEL * ctx.settings.label_budget
    deadline = time.monotonic() + COLLECT_WAIT_S
    while True:
        event = ctx.drift_event()
        indices = event_frames(ctx.capture_dir, event)
        if len(indices) >= wanted or event.end is not None or time.monotonic() >= deadline:
            return event, indices
        ctx.progress(
            len(indices) / wanted * 0.5, f"collecting drifted frames: {len(indices)} of {wanted}"
        )
        time.sleep(COLLECT_POLL_S)


def label(ctx: JobContext) -> None:
    rows = json.loads((ctx.workspace / rounds.round_file(SELECTION_FILE, ctx.round)).read_text())
    own = job_frames(ctx.data_dir, ctx.id)
    frames = [load_frame(own, row["index"]) for row in rows]
    labeler = _labeler(ctx)
    labelled = labeler.label(frames)
    (ctx.workspace / rounds.round_file(LABELS_FILE, ctx.round)).write_text(
        json.dumps(
            [
                {"image": str(item.image), "lines": list(item.lines), "hidden": item.hidden}
                for item in labelled
            ]
        )
    )
    doubtful = getattr(labeler, "doubtful", [])  # the teacher's frames left out, with why
    boxes = sum(len(item.lines) for item in labelled)
    ctx.remember(
        labelled=len(labelled),
        boxes=boxes,
        hidden_regions=sum(len(item.hidden) for item in labelled),
        doubtful=len(doubtful),
        doubts=[{"frame": i, "why": list(why)} for i, why in doubtful[:DOUBTS_KEPT]],
    )
    _check_enough_boxes(ctx, len(rows), boxes, len(doubtful))


def _check_enough_boxes(ctx: JobContext, chosen: int, boxes: int, doubtful: int) -> None:
    """Stop the job before training on labels too sparse to teach or to gate with.

    Measured on the real night clip: the teacher kept 0 boxes on 200 chosen frames, the
    fine-tune learnt that the night holds no vehicles (0.00 boxes a frame after the swap), and
    the gate, with no object in its drifted val split, promoted it.
    """
    earlier = [_labelled(ctx, n) for n in range(1, ctx.round)]
    chosen += sum(map(len, earlier))
    boxes += sum(len(item.lines) for frames in earlier for item in frames)
    if boxes >= max(1.0, MIN_BOXES_PER_FRAME * chosen):
        return
    left_out = f" ({doubtful} left out as doubtful)" if doubtful else ""
    raise LabelError(
        f"the {ctx.settings.labeler} labeler gave {boxes} boxes on the {chosen} chosen "
        f"frames{left_out}: too few to learn from or to measure a new version on (at least "
        f"{MIN_BOXES_PER_FRAME:g} a frame), and a model trained on them would learn that this "
        f"condition holds no vehicles. Label the frames yourself (labeler 'review') or import "
        f"an operator's labels (--labels PATH)"
    )


def dataset(ctx: JobContext) -> None:
    labelled = [_labelled(ctx, n) for n in range(1, ctx.round + 1)]  # every round's frames
    app_data_repo(ctx.data_dir)
    base_yaml = _base_yaml(ctx)
    folder = retrain_dataset_folder(ctx.data_dir, ctx.id)
    shutil.rmtree(folder, ignore_errors=True)  # a half-written one from an interrupted run
    relight = _relighting(ctx, base_yaml) if ctx.settings.relit > 0 else None
    data_yaml = assemble_dataset(
        folder,
        labelled[-1],
        base_yaml,
        replay=rounds.replay_count(ctx, sum(map(len, labelled))),
        val_fraction=ctx.settings.val_fraction,
        seed=ctx.settings.seed,
        relight=relight,
        relit=ctx.settings.relit,
        earlier=labelled[:-1],
    )
    ctx.progress(0.5, "versioning the dataset with DVC")
    md5 = version_dataset(ctx.data_dir, folder)
    pushed = push_dataset(ctx.data_dir, folder.with_name(folder.name + ".dvc"))
    ctx.remember(
        data_yaml=str(data_yaml), base_yaml=str(base_yaml), data_md5=md5, pushed_files=pushed
    )


def _labelled(ctx: JobContext, round_: int) -> list[LabelledImage]:
    """The frames round `round_` labelled."""
    path = ctx.workspace / rounds.round_file(LABELS_FILE, round_)
    return [
        LabelledImage(
            Path(row["image"]),
            tuple(row["lines"]),
            tuple(tuple(region) for region in row.get("hidden", ())),
        )
        for row in json.loads(path.read_text())
    ]


def _relighting(ctx: JobContext, base_yaml: Path) -> Relighting | None:
    """The drifted light as a gain on the base images, from the later half of the event's
    frames (the light it settled in); None, with the reason in the job, when it is not a
    change of light of the base images' view."""
    ctx.progress(0.1, "measuring the drifted light")
    own = job_frames(ctx.data_dir, ctx.id)
    indices = stored_indices(own)
    later = indices[len(indices) // 2 :]
    drifted = [_read_image(load_frame(own, i).image) for i in spread(later, BACKGROUND_SAMPLES)]
    base = [_read_image(p) for p in spread(base_train_images(base_yaml), BACKGROUND_SAMPLES)]
    try:
        relight = relighting(drifted, base)
    except NotRelightable as exc:
        logger.info("job %d: no relit base images: %s", ctx.id, exc)
        ctx.remember(relit=0, relit_skipped=str(exc))
        return None
    ctx.remember(
        relit=min(ctx.settings.relit, len(base_train_images(base_yaml))),
        relit_view_similarity=round(relight.view_similarity, 3),
        relit_mean_gain=round(float(relight.gain.mean()), 3),
    )
    return relight


def _read_image(path: Path):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CaptureError(f"cannot read {path}: the image is missing or damaged")
    return image


def train(ctx: JobContext) -> None:
    from tvdesk.training.device import device_name, resolve_device
    from tvdesk.training.trainer import TrainParams
    from tvdesk.training.trainer import train as fit

    s = ctx.settings
    active = ctx.active_version()
    class_weights = _class_weights(ctx, Path(ctx.result["data_yaml"]))
    params = TrainParams(
        start_from=str(pt_path(active)),
        epochs=s.epochs or EPOCHS_BEFORE_TIMING,
        minutes=0.0 if s.epochs else rounds.train_minutes(ctx),
        rect=not s.mosaic,
        scale=MOSAIC_SCALE if s.mosaic else FINE_TUNE_SCALE,
        optimizer="AdamW",
        lr0=s.fine_tune_lr,
        imgsz=s.imgsz,
        batch=s.batch,
        nominal_batch=s.batch,  # a step after every batch: a few minutes' fine-tune needs steps
        patience=s.patience,
        seed=s.seed + ctx.round - 1,
        workers=1,
        device=resolve_device(s.device),
        threads=s.threads,
        freeze=s.freeze,
        warmup_epochs=s.warmup_epochs,
        class_weights=class_weights,
    )
    epochs: list[dict] = []

    def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
        if epoch > total:  # Ultralytics reports its final validation as one more epoch
            return
        epochs.append({"epoch": epoch, **metrics})
        ctx.remember(epochs=epochs, planned_epochs=total)
        ctx.progress(
            epoch / total,
            f"epoch {epoch}/{total}: mAP50 {metrics.get('metrics/mAP50(B)', float('nan')):.3f}",
        )

    started = time.monotonic()
    result = fit(
        Path(ctx.result["data_yaml"]),
        ctx.workspace / rounds.round_file("train", ctx.round),
        params,
        on_epoch,
        should_stop=ctx.cancel_requested,
    )
    ctx.remember(
        candidate_pt=str(result.best_weights),
        epochs_run=result.epochs_run,
        weight_updates=result.weight_updates,
        train_params=params.as_dict(),
        train_seconds=time.monotonic() - started,
        parent_id=active.id,
        device=device_name(params.device),
    )


def _class_weights(ctx: JobContext, data_yaml: Path) -> tuple[float, ...] | None:
    """The class loss's weights for teacher labels (`dataset.class_loss_weights` over the
    boxes of the job's own frames), with a log line and a job field naming the classes left
    out; None for other labels. A teacher on fog names hardly any bicycle or person, so
    trained on its labels, every one it missed would teach the model that they are road;
    an operator's or the oracle's labels name every instance, so few boxes mean few there."""
    if ctx.settings.labeler != "teacher":
        return None
    counts = boxes_per_class(data_yaml, "train", drifted_only=True)
    weights = class_loss_weights(counts, ctx.settings.min_class_boxes)
    untaught = {n: k for (n, k), w in zip(counts.items(), weights or (), strict=False) if not w}
    ctx.remember(untaught_classes=untaught or None)
    if untaught:
        logger.info(
            "job %d: classes left out of the class loss (fewer than %d teacher boxes in the "
            "drifted frames): %s",
            ctx.id,
            ctx.settings.min_class_boxes,
            ", ".join(f"{name} ({k})" for name, k in untaught.items()),
        )
    return weights


def evaluate(ctx: JobContext) -> None:
    from tvdesk.training.evaluation import evaluate as measure

    s, r = ctx.settings, ctx.result
    if labelled_objects(Path(r["data_yaml"])) == 0:  # mAP50 of nothing measures nothing
        decision = GateDecision(
            False,
            "kept the active model: the drifted val split holds no labelled vehicle, so no "
            "gain can be measured; label the frames (labeler 'review') or import labels",
            0.0,
            0.0,
        )
        ctx.remember(gate=decision.as_dict(), metrics=None)
        _end_kept_round(ctx)
        return
    active = ctx.parent_version()
    sets = {"drift": Path(r["data_yaml"]), "base": Path(r["base_yaml"])}
    weights = {"candidate": Path(r["candidate_pt"]), "active": pt_path(active)}
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for number, (who, path) in enumerate(weights.items()):
        metrics[who] = {name: measure(path, data, s.imgsz) for name, data in sets.items()}
        ctx.progress((number + 1) / (len(weights) + 1), f"evaluated the {who} model")
    reference = rounds.gate_reference(ctx, metrics["active"])
    decision = decide(
        metrics["candidate"], reference, min_gain=s.min_gain, max_base_loss=s.max_base_loss
    )
    if decision.drift_gain >= s.min_gain:
        decision = _choose_blend(
            ctx,
            decision,
            metrics,
            reference,
            sets,
            pt_path(active),
            first_passing=s.labeler == "teacher",
        )
    ctx.remember(metrics=metrics, gate=decision.as_dict())
    if not decision.promote:
        _end_kept_round(ctx)


def _end_kept_round(ctx: JobContext) -> None:
    """The gate kept the active model: the round ends, here or (for a job trained on another
    machine) at the app, which the worker's context tells."""
    if not ctx.round_ends_elsewhere():
        rounds.end_round(ctx)


def _choose_blend(
    ctx: JobContext,
    decision: GateDecision,
    metrics: dict,
    reference: dict,
    sets: dict,
    active_pt: Path,
    *,
    first_passing: bool,
) -> GateDecision:
    """The fine-tune gained enough on the drifted data: measure it blended with the active
    model's weights too (BLEND_WEIGHTS, most of the fine-tune first; WiSE-FT) and promote, of
    the fine-tune and the blends the gate passes, the best on drifted plus base mAP50
    (`gate.best_share`): on real fog with imported labels an 80 % blend beat the fine-tune on
    both held-in splits and on the held-out truth. Blends stop once one scores below the one
    before and something has passed.

    With `first_passing` (teacher labels) the search stops at the first blend that passes, or
    after the first blend when the fine-tune itself passed (the better of the two is
    promoted): the drifted val split is the teacher's, and the teacher is the active model run
    the expensive way, so every step towards the active model gains on it whatever it does to
    the truth (real fog: 1.56 -> 1.67 from the fine-tune to a 70 % blend while held-out fog
    fell 0.465 -> 0.377). One step is as far as the truth followed: in two real-fog runs the
    90 % blend of a passing teacher-trained fine-tune was as good or better on the held-out
    fog (0.474 against 0.465; 0.467 against 0.466) and kept more of other cameras' day (0.299
    against 0.281; 0.269 against 0.243). Every blend tried is recorded;
    `metrics["candidate"]` and the job's `candidate_pt` become the chosen blend's."""
    from tvdesk.training.blend import blend_checkpoints
    from tvdesk.training.evaluation import evaluate as measure

    s, tuned = ctx.settings, Path(ctx.result["candidate_pt"])
    passed = {1.0: metrics["candidate"]} if decision.promote else {}
    verdicts, paths, tried = {}, {}, []
    previous = held_in_score(metrics["candidate"])
    for weight in BLEND_WEIGHTS:
        ctx.progress(2 / 3, f"blending the fine-tune {weight:.0%} with the active model")
        path = blend_checkpoints(active_pt, tuned, weight, ctx.workspace / f"blend-{weight}.pt")
        figures = {name: measure(path, data, s.imgsz) for name, data in sets.items()}
        verdict = decide(figures, reference, min_gain=s.min_gain, max_base_loss=s.max_base_loss)
        tried.append(
            {
                "weight": weight,
                "drift_map50": figures["drift"]["map50"],
                "base_map50": figures["base"]["map50"],
                "promote": verdict.promote,
            }
        )
        ctx.remember(blends=tried)
        if verdict.promote:
            passed[weight], verdicts[weight], paths[weight] = figures, verdict, path
        score = held_in_score(figures)
        if passed and (first_passing or score < previous):
            break
        previous = score
    if not passed:
        return decision
    weight = best_share(passed)
    if weight == 1.0:
        return decision
    alone = (
        f"alone it lost {decision.base_loss:.3f} of base mAP50, more than the "
        f"{s.max_base_loss:.3f} allowed"
        if not decision.promote
        else f"alone: drifted {metrics['candidate']['drift']['map50']:.3f}, base "
        f"{metrics['candidate']['base']['map50']:.3f}"
    )
    metrics["fine_tune"], metrics["candidate"] = metrics["candidate"], passed[weight]
    ctx.remember(candidate_pt=str(paths[weight]), blend_weight=weight)
    return replace(
        verdicts[weight],
        reason=f"{verdicts[weight].reason}; the fine-tune blended {weight:.0%} with the "
        f"active model's weights ({alone})",
    )


def register(ctx: JobContext) -> None:
    onnx, card = export_candidate(ctx)
    register_candidate(ctx, onnx, card)


def export_candidate(ctx: JobContext) -> tuple[Path, dict]:
    """The candidate exported to ONNX and its model card: what a training worker on another
    machine sends back (`register_candidate` does the rest, its int8 copy included)."""
    from tvdesk.training.card import build_card
    from tvdesk.training.export import export_onnx

    s, r = ctx.settings, ctx.result
    pt = Path(r["candidate_pt"])
    onnx = export_onnx(pt, s.imgsz, dynamic=True)
    ctx.checkpoint(force=True)
    data = {
        "yaml": r["data_yaml"],
        "dvc_md5": r["data_md5"],
        "job": ctx.id,
        "drift_event": ctx.job.params["event_id"],
        "round": ctx.round,
        "labeler": s.labeler,
    }
    metrics, seconds = r["metrics"]["candidate"], r["train_seconds"]
    name = ctx.parent_version().name
    card = build_card(name, onnx, pt, [], data, _version_params(r), metrics, seconds)
    return onnx, card


def register_candidate(ctx: JobContext, onnx: Path, card: dict) -> None:
    """Register the exported candidate (`onnx`, the job's `candidate_pt`, `card`) as a new
    version on the camera's line, live on the camera in fp32; then make and gate its int8 copy
    (`job_int8`: the player takes it up where it passed and runs faster) and end the round."""
    registry = Registry(ctx.store, ctx.data_dir)
    camera = ctx.camera()
    model = _registered(ctx, registry, onnx, card, camera)
    job_int8(ctx, registry, model)
    rounds.end_round(ctx, model, camera)


def _registered(
    ctx: JobContext, registry: Registry, onnx: Path, card: dict, camera: Camera
) -> ModelVersion:
    """The round's new version, registered and live on `camera`: registered now, or found
    when a worker stopped after registering it (the stage runs again; never twice)."""
    r = ctx.result
    if r.get("registered_id") is not None:
        return registry.get(r["registered_id"])
    parent = registry.get(r["parent_id"])
    candidate = Candidate(
        onnx,
        Path(r["candidate_pt"]),
        card,
        data_md5=r["data_md5"],
        params=_version_params(r),
        metrics=r["metrics"]["candidate"],
        train_images=Path(r["data_yaml"]).parent / "images",
    )
    model = registry.register(parent.name, candidate, parent_id=parent.id, activate_for=camera.id)
    ctx.remember(registered_id=model.id)
    return model


def _version_params(result: dict) -> dict:
    """The training parameters a new version records (its blend weight, if blended)."""
    params = {**result["train_params"], "epochs_run": result["epochs_run"]}
    if "blend_weight" in result:
        params["blend_weight"] = result["blend_weight"]
    return params


STAGE_FUNCTIONS: dict[str, Callable[[JobContext], None]] = {
    "select": select,
    "label": label,
    "dataset": dataset,
    "train": train,
    "evaluate": evaluate,
    "register": register,
}


def _active_detector(ctx: JobContext) -> OnnxDetector:
    active = ctx.active_version()
    return OnnxDetector(active.path, threads=max(1, ctx.settings.threads))


def _teacher(ctx: JobContext, keep_doubtful: bool = False) -> TeacherLabeler:
    """The camera's version run the expensive way (one thread per view, like the training:
    the player keeps the other core)."""
    settings = TeacherSettings(threads=max(1, ctx.settings.threads))
    teacher = EnsembleTeacher(ctx.active_version().path, settings)
    return TeacherLabeler(teacher, keep_doubtful)


def _labeler(ctx: JobContext) -> Labeler:
    name = ctx.settings.labeler
    if name == "oracle":
        return OracleLabeler()
    if name == "import":
        return _importer(ctx)
    if name == "review":  # imported labels to correct, when there are some; else the teacher's
        prelabels = _importer(ctx) if ctx.settings.import_dir else _teacher(ctx, True)
        return ReviewLabeler(job_review_folder(ctx.data_dir, ctx.job), prelabels)
    return _teacher(ctx)


def _importer(ctx: JobContext) -> ImportLabeler:
    names = _active_detector(ctx).names
    frames = job_frames(ctx.data_dir, ctx.id) / FRAMES_FOLDER  # where an export without images
    return ImportLabeler(Path(ctx.settings.import_dir), names, frames)  # finds its frames


def _every(ctx: JobContext, done: int, total: int, what: str) -> None:
    if done == total or done % 20 == 0:
        ctx.progress(done / total, f"{what}: {done}/{total}")
