"""Refinement rounds: after its first promotion a retraining job goes on while its drifted
condition holds. Each round takes the condition's frames that the camera captured since the
last round looked (`condition.py` tells them from the old normal), labels them the same way,
adds them to the job's growing set, fine-tunes from the last promoted version and runs the
same gate; a round that passes is registered with that version as its parent, and the camera
swaps to it as to any version.

The job ends when a round gains less than `round_min_gain` on the job's drifted val split,
when `refine_minutes` of fine-tuning are spent, when the condition ends (or the camera stops
capturing it), when the operator makes the camera run another version, or when the operator
stops it (`context.stop_job`: now, or after the round in progress). The stages call in here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import NoReturn

from tvdesk.config import RetrainSettings
from tvdesk.core.drift.reference import ProfileError, ReferenceProfile
from tvdesk.core.registry import RegistryError
from tvdesk.core.session.cameras import CameraError, drift_reference
from tvdesk.core.session.capture import (
    FRAMES_FOLDER,
    CapturedFrame,
    CaptureError,
    keep_frames,
    load_frame,
    stored_indices,
)
from tvdesk.core.store import Camera
from tvdesk.core.store.model_version import ModelVersion
from tvdesk.retrain.condition import DriftedCondition, drifted_condition, normal_of_frames
from tvdesk.retrain.context import JobContext, JobStopped, NextRound, kept_live
from tvdesk.retrain.relight import spread

logger = logging.getLogger(__name__)

UNATTENDED_LABELERS = ("oracle", "teacher")  # they label a round's frames without a person
ROUND_WAIT_S = 60.0  # the longest a round waits for the camera to capture frames of the condition
ROUND_POLL_S = 2.0
NORMAL_FRAMES = 300  # frames from before the alarm that stand for a lost baseline
MIN_ROUND_SHARE = 0.25  # another round starts only with this share of round_minutes left
# From the end of the first training to the new version live: Ultralytics' final validation,
# the gate (longer when it tries blends), registration and the swap (measured on the
# real-weather bench, 2-core CPU, four runs: 40-41 s, 54 s with a blend, then with the int8
# copy made before registration; it is made after the swap now), with a margin for a busier
# machine.
AFTER_TRAINING_S = 75.0
MIN_TRAIN_MINUTES = 2.0  # the least a first training gets, even when the promise is missed
# What one round leaves in the job's result that must not leak into the next.
PER_ROUND_KEYS = ("epochs", "planned_epochs", "blends", "blend_weight", "registered_id")


def refining(settings: RetrainSettings) -> bool:
    """Does a job with `settings` go on in rounds after its first promotion?"""
    return settings.refine_minutes > 0 and settings.labeler in UNATTENDED_LABELERS


def round_file(name: str, round_: int) -> str:
    """A round's own file: selection.json in round 1, selection-2.json in round 2..."""
    if round_ == 1:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}-{round_}.{suffix}" if dot else f"{name}-{round_}"


def train_minutes(ctx: JobContext) -> float:
    """Fine-tuning time of this round: in round 1 `train_minutes`, or less when that would
    bring the first version live later than `live_within_minutes` after the approval
    (`first_training_minutes`); then `round_minutes`, or what is left of `refine_minutes`
    when that is less."""
    s = ctx.settings
    if ctx.round == 1:
        approved = ctx.job.created  # 0 where unknown: a worker on another machine
        elapsed_s = time.time() - approved if approved else 0.0
        minutes = first_training_minutes(s, elapsed_s)
        if minutes < s.train_minutes:
            logger.info(
                "job %d: training %.1f min, not %.1f, to be live within %.0f min of the "
                "approval (%.1f min have gone on selecting and labelling)",
                ctx.id,
                minutes,
                s.train_minutes,
                s.live_within_minutes,
                elapsed_s / 60,
            )
        return minutes
    return min(s.round_minutes, s.refine_minutes - spent_seconds(ctx.result) / 60)


def first_training_minutes(settings: RetrainSettings, elapsed_s: float) -> float:
    """`train_minutes`, cut to what `live_within_minutes` leaves after the `elapsed_s` since
    the approval and the stages after training (`AFTER_TRAINING_S`), never below
    `MIN_TRAIN_MINUTES` (unless `train_minutes` is less); `live_within_minutes` 0 never cuts
    it."""
    if not settings.live_within_minutes:
        return settings.train_minutes
    left_s = settings.live_within_minutes * 60 - max(0.0, elapsed_s) - AFTER_TRAINING_S
    return min(settings.train_minutes, max(MIN_TRAIN_MINUTES, left_s / 60))


def replay_count(ctx: JobContext, labelled: int) -> int:
    """Base images replayed this round against forgetting: `replay` in round 1, then more in
    proportion as the job's `labelled` frames grow past round 1's, so that the drifted frames
    do not crowd the base out over the rounds (the dataset takes the whole base set at most)."""
    rounds = ctx.result.get("rounds", [])
    first = rounds[0].get("labelled") if rounds else None
    return round(ctx.settings.replay * max(1.0, labelled / first)) if first else ctx.settings.replay


def spent_seconds(result: dict) -> float:
    """Fine-tuning seconds of the rounds that ended."""
    return sum(r.get("train_seconds", 0.0) for r in result.get("rounds", []))


# -- where a round's frames come from ---------------------------------------------------------


def begin(ctx: JobContext, own: Path, indices: list[int]) -> None:
    """Round 1: learn the condition from the alarm's settled frames (the later half of
    `indices`, in the job's folder `own`) against the reference the alarm was raised against,
    and mark where round 2 looks from. Without it the job ends after round 1, saying why."""
    if not refining(ctx.settings):
        return
    ctx.remember(collected_until=_newest(ctx, own, indices))
    try:
        normal = _old_normal(ctx, indices)
        settled = [load_frame(own, i) for i in indices[len(indices) // 2 :]]
        drifted_condition(normal, settled).save(ctx.workspace)
    except (ProfileError, CameraError, RegistryError, CaptureError, OSError) as exc:
        logger.warning("job %d: no refinement rounds: %s", ctx.id, exc)
        ctx.remember(refine_skipped=f"the drifted condition could not be learnt ({exc})")


def collect(ctx: JobContext, own: Path, wanted: int) -> list[int]:
    """Round 2...: at most `wanted` frames of the condition captured since the last round
    looked, spread over that time and linked into the job's folder `own`; waits up to
    ROUND_WAIT_S for enough. Ends the job (JobStopped) when the operator made the camera run
    another version, when the condition has ended, or when too few frames of it came."""
    n, s = ctx.round, ctx.settings
    _check_camera(ctx)
    condition = DriftedCondition.load(ctx.workspace)
    held = set(stored_indices(own))
    deadline = time.monotonic() + ROUND_WAIT_S
    while True:
        fresh = _fresh_frames(ctx.capture_dir, int(ctx.result["collected_until"]), held)
        frames = [frame for _, frame in fresh]
        if condition.ended(frames):
            end_job(
                ctx,
                "the drifted condition has ended: the newest frames look like the "
                "camera's old normal again",
            )
        matching = [
            f.index for f, shows in zip(frames, condition.shows(frames), strict=True) if shows
        ]
        if len(matching) >= wanted or time.monotonic() >= deadline:
            break
        ctx.progress(
            0.5 * len(matching) / wanted,
            f"round {n}: waiting for frames of the condition: {len(matching)} of {wanted}",
        )
        time.sleep(ROUND_POLL_S)
    if len(matching) < s.label_budget:
        end_job(
            ctx,
            f"only {len(matching)} new frames of the drifted condition came in round "
            f"{n} ({s.label_budget} needed): the camera stopped playing or the condition ended",
        )
    kept = keep_frames(ctx.capture_dir, list(spread(matching, wanted)), own)
    ctx.remember(collected_until=max(mtime for mtime, _ in fresh), round_matching=len(matching))
    return kept


def _fresh_frames(
    capture_dir: Path, since_ns: int, held: set[int]
) -> list[tuple[int, CapturedFrame]]:
    """(mtime ns, frame) of the complete frames written after `since_ns`, oldest first; a
    frame number the job holds already (a restarted stream reuses numbers) is left out."""
    fresh = []
    for sidecar in (capture_dir / FRAMES_FOLDER).glob("*.json"):
        try:
            mtime, index = sidecar.stat().st_mtime_ns, int(sidecar.stem)
            if mtime > since_ns and index not in held:
                fresh.append((mtime, load_frame(capture_dir, index)))
        except (OSError, ValueError, CaptureError):  # evicted meanwhile, or not a frame
            continue
    return sorted(fresh, key=lambda pair: pair[0])


def _newest(ctx: JobContext, own: Path, indices: list[int]) -> int:
    """When the newest of `indices` was captured (its sidecar's mtime, in the capture)."""
    times = []
    for index in indices:
        name = f"{FRAMES_FOLDER}/{index:08d}.json"
        for folder in (ctx.capture_dir, own):
            try:
                times.append((folder / name).stat().st_mtime_ns)
                break
            except OSError:
                continue
    return max(times, default=0)


def _old_normal(ctx: JobContext, indices: list[int]) -> ReferenceProfile:
    """What the camera was tested against when the alarm came (its model's profile or its
    kept baseline), else what it captured before the alarm's first frame (`indices`)."""
    profile = drift_reference(ctx.camera(), ctx.active_version(), ctx.data_dir)
    if profile is not None:
        return profile
    before = [i for i in stored_indices(ctx.capture_dir) if i < min(indices)]
    frames = []
    for index in spread(before, NORMAL_FRAMES):
        try:
            frames.append(load_frame(ctx.capture_dir, index))
        except CaptureError:  # evicted meanwhile
            continue
    return normal_of_frames(frames)


def _check_camera(ctx: JobContext) -> None:
    camera = ctx.camera()
    if camera.model_id != ctx.result.get("model_id"):
        end_job(
            ctx,
            f"camera {camera.name!r} runs another version now (the operator's choice)",
            live=False,
        )


# -- the end of a round ---------------------------------------------------------------------


def gate_reference(ctx: JobContext, active: dict) -> dict:
    """What the gate compares a candidate with: in round 1 the active version; later, the
    drifted data as the last promoted version does it, and the base data as the version the
    job started from did (so that the rounds' losses of the base cannot add up)."""
    rounds = ctx.result.get("rounds", [])
    if ctx.round == 1 or not rounds:
        return active
    return {"drift": active["drift"], "base": rounds[0]["metrics"]["active"]["base"]}


def end_round(
    ctx: JobContext, model: ModelVersion | None = None, camera: Camera | None = None
) -> None:
    """Record the round that was just gated (`model`: the version it promoted for `camera`);
    then go on with the next (raises NextRound) or end the job saying why (after a round
    that promoted nothing, raises JobStopped)."""
    n, result = ctx.round, ctx.result
    gate = result["gate"]
    values: dict = {"rounds": [*result.get("rounds", []), _record(result, n, model)]}
    if model is not None:
        values |= {
            "promoted": True,
            "model_id": model.id,
            "model_version": model.version,
            "model_path": str(model.path),
            "model_round": n,
            "model_ids": [*result.get("model_ids", []), model.id],
        }
    elif n == 1:
        values["promoted"] = False
    ctx.remember(**values)
    verdict = gate["reason"]
    if model is not None:
        live = f"{model.name} version {model.version} is live on camera {camera.name!r}"
        verdict = f"{live}: {verdict}"
    if n > 1:
        verdict = f"round {n}: {verdict}"
    if ctx.job.state.finished:  # the operator stopped the job as the round ended
        ctx.store.jobs.update(ctx.id, message=f"stopped by the operator{kept_live(ctx.job)}")
        raise JobStopped(f"job {ctx.id} was stopped")
    why = _reason_to_end(ctx, promoted=model is not None, gain=gate["drift_gain"])
    if why is None:
        ctx.remember(round=n + 1, **dict.fromkeys(PER_ROUND_KEYS))
        ctx.store.jobs.update(ctx.id, message=f"{verdict}; round {n + 1} next")
        raise NextRound(f"job {ctx.id}: round {n + 1}")
    message = verdict + (f"; {why}" if why else "")
    if model is None and n > 1:
        message += kept_live(ctx.job)
    ctx.finish(message)
    if model is None:
        raise JobStopped(message)


def end_job(ctx: JobContext, why: str, live: bool = True) -> NoReturn:
    """End the job between rounds: it succeeded, its last promoted version stays live."""
    message = why + (kept_live(ctx.job) if live else "")
    ctx.finish(message, refine_ended=why)
    raise JobStopped(message)


def _reason_to_end(ctx: JobContext, *, promoted: bool, gain: float) -> str | None:
    """Why the job ends after this round ('' when it never refines), or None to go on."""
    s, n, result = ctx.settings, ctx.round, ctx.result
    if not refining(s) or (n == 1 and not promoted):
        return ""
    if result.get("stop_after_round"):
        return f"stopped by the operator after round {n}"
    if "refine_skipped" in result:
        return f"no refinement rounds: {result['refine_skipped']}"
    if n > 1 and gain < s.round_min_gain:
        return (
            f"round {n} gained {gain:+.3f} mAP50 on the drifted val split, less than the "
            f"{s.round_min_gain:.3f} a round must gain: the model has stopped learning from "
            "new frames"
        )
    spent = spent_seconds(result)
    if s.refine_minutes * 60 - spent < MIN_ROUND_SHARE * s.round_minutes * 60:
        return f"the fine-tuning budget is spent ({spent / 60:.1f} of {s.refine_minutes:g} min)"
    return None


def _record(result: dict, n: int, model: ModelVersion | None) -> dict:
    """What the jobs panel, the models panel and the demo report read of one round."""
    return {
        "round": n,
        "ended": time.time(),
        "labelled": result.get("labelled"),
        "train_seconds": result.get("train_seconds", 0.0),
        "epochs_run": result.get("epochs_run"),
        "weight_updates": result.get("weight_updates"),
        "data_md5": result.get("data_md5"),
        "parent_id": result.get("parent_id"),
        "metrics": result.get("metrics"),
        "gate": result.get("gate"),
        "blend_weight": result.get("blend_weight"),
        "promoted": model is not None,
        "model_id": model.id if model else None,
        "model_version": model.version if model else None,
    }
