"""The headless demo's report: what a `DemoRun` measured, as JSON-ready figures.

Times are stream seconds (the scenario's clock) unless named `wall`; mAP figures come from
Ultralytics' val on held-out synthetic night frames (see `evaluate_night`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from tvdesk.core.demo import DemoRun, alarm_events, quality_bins, swap_figures
from tvdesk.core.live import JobQueued, ModelPromoted, SwapDone
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

logger = logging.getLogger(__name__)

EVAL_SEED = 1001  # the held-out night set of `make model` (build/eval/night)
EVAL_IMAGES = 200


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


def evaluate_night(
    report: dict, run: DemoRun, eval_root: Path, imgsz: int, bundled_day_map50: float | None
) -> None:
    """Add mAP50 of the old and the new model on held-out synthetic night frames."""
    from tvdesk.core.registry import pt_path
    from tvdesk.core.store import Store
    from tvdesk.core.store.connection import database_path
    from tvdesk.training.evaluation import evaluate

    promoted = next((t.event for t in run.events if isinstance(t.event, ModelPromoted)), None)
    data_yaml = eval_root / "data.yaml"
    if not data_yaml.exists():
        spec = DatasetSpec(conditions=("night",), train=0, val=EVAL_IMAGES, seed=EVAL_SEED)
        write_dataset(eval_root, spec)
    with Store(database_path(run.data_dir)) as store:
        versions = {v.version: v for v in store.models.all()}
    old = versions[run.started_version]
    figures = {"night_set": str(data_yaml), "old_night_map50": None, "new_night_map50": None}
    figures["old_night_map50"] = round(evaluate(pt_path(old), data_yaml, imgsz)["map50"], 4)
    if promoted is not None:
        new = pt_path(promoted.version)
        figures["new_night_map50"] = round(evaluate(new, data_yaml, imgsz)["map50"], 4)
    figures["bundled_day_map50"] = bundled_day_map50
    if figures["new_night_map50"] is not None and bundled_day_map50:
        figures["new_night_over_bundled_day"] = round(
            figures["new_night_map50"] / bundled_day_map50, 3
        )
    report["map50"] = figures
