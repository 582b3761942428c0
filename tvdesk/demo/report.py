"""The headless demo's report: what a `DemoRun` measured, as JSON-ready figures.

Times are stream seconds (the scenario's clock) unless named `wall`; mAP figures come from
Ultralytics' val on held-out synthetic night and day frames (see `evaluate_held_out`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from tvdesk.core.session.events import JobQueued, ModelPromoted, SwapDone
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset
from tvdesk.demo.headless import DemoRun, alarm_events, quality_bins, swap_figures

logger = logging.getLogger(__name__)

EVAL_SEED = 1001  # the held-out sets of `make model` (build/eval/night, build/eval/day)
EVAL_IMAGES = 200
HELD_OUT_CONDITIONS = ("night", "day")


def build_report(run: DemoRun) -> dict:
    options = run.options
    alarms = alarm_events(run)
    synthetic = not options.videos
    drift_onset = options.day_s if synthetic else None
    first = alarms[0] if alarms else None
    queued = next((t for t in run.events if isinstance(t.event, JobQueued)), None)
    promoted = next((t for t in run.events if isinstance(t.event, ModelPromoted)), None)
    swapped = next(
        (t for t in run.events if isinstance(t.event, SwapDone) and t.event.swap.accepted), None
    )
    records = run.records
    report: dict = {
        "source": [str(p) for p in options.videos] or "synthetic day -> night",
        "options": {k: (str(v) if isinstance(v, tuple) else v) for k, v in vars(options).items()},
        "outcome": run.outcome,
        "frames": len(records),
        "stream_seconds": round(records[-1].stream, 1) if records else 0.0,
        "frames_dropped": records[-1].dropped if records else 0,
        "started_with_model": run.started_version,
        "alarm": None,
        "false_alarms_before_drift": (
            sum(1 for t in alarms if t.event.event.start < drift_onset) if synthetic else None
        ),
        "job": None,
        "swap": swap_figures(run),
        "quality": quality_bins(records),
    }
    if first is not None:
        event = first.event.event
        report["alarm"] = {
            "stream_s": round(event.start, 2),
            "frames_to_alarm": sum(1 for r in records if r.stream <= event.start),
            "after_night_complete_s": (
                round(event.start - options.night_complete_s, 2) if synthetic else None
            ),
            "summary": event.summary,
            "drivers": {k: round(v, 1) for k, v in event.drivers.items()},
        }
    if queued is not None:
        result = run.job_result
        report["job"] = {
            "id": queued.event.job.id,
            "queue": queued.event.queue,
            "state": run.job_state,
            "message": run.job_message,
            "selected": result.get("selected"),
            "boxes": result.get("boxes"),
            "epochs_run": result.get("epochs_run"),
            "train_seconds": result.get("train_seconds"),
            "metrics": result.get("metrics"),
            "approval_to_promoted_wall_s": (
                round(promoted.wall - queued.wall, 1) if promoted else None
            ),
            "approval_to_live_wall_s": round(swapped.wall - queued.wall, 1) if swapped else None,
            "new_model": promoted.event.version.version if promoted else None,
        }
    return report


def evaluate_held_out(
    report: dict,
    run: DemoRun,
    eval_root: Path,
    imgsz: int,
    bundled_day_map50: float | None,
    images: int = EVAL_IMAGES,
) -> None:
    """Add mAP50 of the old and the new model on held-out synthetic night and day frames:
    what the retraining gained at night, and what it cost the day."""
    from tvdesk.core.registry import pt_path
    from tvdesk.core.store import Store
    from tvdesk.core.store.connection import database_path
    from tvdesk.training.evaluation import evaluate

    promoted = next((t.event for t in run.events if isinstance(t.event, ModelPromoted)), None)
    with Store(database_path(run.data_dir)) as store:
        versions = {v.version: v for v in store.models.all()}
    models = {"old": pt_path(versions[run.started_version])}
    if promoted is not None:
        models["new"] = pt_path(promoted.version)
    figures: dict = {"bundled_day_map50": bundled_day_map50}
    for condition in HELD_OUT_CONDITIONS:
        data_yaml = eval_root / condition / "data.yaml"
        if not data_yaml.exists():
            spec = DatasetSpec(conditions=(condition,), train=0, val=images, seed=EVAL_SEED)
            write_dataset(data_yaml.parent, spec)
        figures[f"{condition}_set"] = str(data_yaml)
        for which in ("old", "new"):
            weights = models.get(which)
            figures[f"{which}_{condition}_map50"] = (
                round(evaluate(weights, data_yaml, imgsz)["map50"], 4) if weights else None
            )
    if figures["new_night_map50"] is not None and bundled_day_map50:
        figures["new_night_over_bundled_day"] = round(
            figures["new_night_map50"] / bundled_day_map50, 3
        )
    if figures["new_day_map50"] is not None:
        figures["day_drop"] = round(figures["old_day_map50"] - figures["new_day_map50"], 4)
    report["map50"] = figures
