"""The headless demo's report: what a `DemoRun` measured, as JSON-ready figures.

Times are stream seconds (the scenario's clock) unless named `wall`; mAP figures come from
Ultralytics' val on held-out synthetic night and day frames (see `evaluate_held_out`), for
every version the job promoted, measured after the run so that they take no CPU from it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tvdesk.core.session.events import JobQueued, ModelPromoted, SwapDone
from tvdesk.core.synth.dataset import DatasetSpec, write_dataset
from tvdesk.demo.headless import (
    DemoRun,
    TimedEvent,
    accepted_swaps,
    alarm_events,
    quality_bins,
    swap_figures,
)

logger = logging.getLogger(__name__)

EVAL_SEED = 1001  # the held-out sets of `make model` (build/eval/night, build/eval/day)
EVAL_IMAGES = 200
HELD_OUT_CONDITIONS = ("night", "day")
DRIFT_SETTLE_S = 2.0  # after a swap, the monitor moves to the new version's reference


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
        "swaps": [swap_figures(run, t) for t in accepted_swaps(run)],
        "drift_after_first_swap": drift_after_first_swap(run),
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
            "hidden_regions": result.get("hidden_regions"),
            "doubtful": result.get("doubtful"),
            "untaught_classes": result.get("untaught_classes"),
            "epochs_run": result.get("epochs_run"),
            "train_seconds": result.get("train_seconds"),
            "metrics": result.get("metrics"),
            "approval_to_promoted_wall_s": (
                round(promoted.wall - queued.wall, 1) if promoted else None
            ),
            "approval_to_live_wall_s": round(swapped.wall - queued.wall, 1) if swapped else None,
            "new_model": promoted.event.version.version if promoted else None,
            "approval_to_end_wall_s": round(records[-1].wall - queued.wall, 1),
            "rounds": round_rows(run, queued),
        }
    return report


def round_rows(run: DemoRun, queued: TimedEvent) -> list[dict]:
    """Each round of the job: its frames, training, gate figures (on the job's own val split
    and the base val split), and when its version went live, counted from the approval."""
    live = {}
    swaps = accepted_swaps(run)
    for timed in run.events:
        if isinstance(timed.event, ModelPromoted):
            after = next((s for s in swaps if s.wall >= timed.wall), None)
            live[timed.event.version.version] = after.wall - queued.wall if after else None
    rows = []
    for r in run.job_result.get("rounds", []):
        metrics = r.get("metrics") or {}
        candidate, active = metrics.get("candidate", {}), metrics.get("active", {})
        rows.append(
            {
                "round": r["round"],
                "labelled": r.get("labelled"),
                "train_seconds": round(r.get("train_seconds", 0.0), 1),
                "epochs_run": r.get("epochs_run"),
                "weight_updates": r.get("weight_updates"),
                "val_map50_before": active.get("drift", {}).get("map50"),
                "val_map50": candidate.get("drift", {}).get("map50"),
                "base_map50": candidate.get("base", {}).get("map50"),
                "blend_weight": r.get("blend_weight"),
                "promoted": r.get("promoted"),
                "model": r.get("model_version"),
                "approval_to_live_wall_s": _rounded(live.get(r.get("model_version"))),
                "gate": (r.get("gate") or {}).get("reason"),
            }
        )
    return rows


def drift_after_first_swap(run: DemoRun) -> dict | None:
    """The drift test once the first new version runs: its largest statistic / threshold
    from DRIFT_SETTLE_S after the swap on, and the alarms raised after it."""
    swaps = accepted_swaps(run)
    if not swaps:
        return None
    at = swaps[0].wall
    later = [r.drift_ratio for r in run.records if r.wall >= at + DRIFT_SETTLE_S]
    return {
        "from_s_after_swap": DRIFT_SETTLE_S,
        "frames": len(later),
        "max_ratio": round(max(later), 3) if later else None,
        "alarms": sum(1 for t in alarm_events(run) if t.wall > at),
    }


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def evaluate_held_out(
    report: dict,
    run: DemoRun,
    eval_root: Path,
    imgsz: int,
    bundled_day_map50: float | None,
    images: int = EVAL_IMAGES,
) -> None:
    """Add mAP50 on held-out synthetic night and day frames of the old model and of every
    version the job promoted (the last is "new"): what the retraining gained at night, and
    what it cost the day, version after version."""
    from tvdesk.core.registry import pt_path
    from tvdesk.core.store import Store
    from tvdesk.core.store.connection import database_path
    from tvdesk.training.evaluation import evaluate

    promoted = [t for t in run.events if isinstance(t.event, ModelPromoted)]
    line = promoted[0].event.version.name if promoted else None
    with Store(database_path(run.data_dir)) as store:
        old = next(v for v in store.models.all(line) if v.version == run.started_version)
    versions = [old, *(t.event.version for t in promoted)]
    sets = {c: _held_out_set(eval_root, c, images) for c in HELD_OUT_CONDITIONS}
    measured = [
        {c: round(evaluate(pt_path(v), data, imgsz)["map50"], 4) for c, data in sets.items()}
        for v in versions
    ]
    figures: dict = {"bundled_day_map50": bundled_day_map50}
    for condition, data_yaml in sets.items():
        figures[f"{condition}_set"] = str(data_yaml)
        figures[f"old_{condition}_map50"] = measured[0][condition]
        figures[f"new_{condition}_map50"] = measured[-1][condition] if promoted else None
    if figures["new_night_map50"] is not None and bundled_day_map50:
        figures["new_night_over_bundled_day"] = round(
            figures["new_night_map50"] / bundled_day_map50, 3
        )
    if figures["new_day_map50"] is not None:
        figures["day_drop"] = round(figures["old_day_map50"] - figures["new_day_map50"], 4)
    figures["versions"] = _version_rows(report, versions, measured)
    report["map50"] = figures


def _held_out_set(eval_root: Path, condition: str, images: int) -> Path:
    data_yaml = eval_root / condition / "data.yaml"
    if not data_yaml.exists():
        spec = DatasetSpec(conditions=(condition,), train=0, val=images, seed=EVAL_SEED)
        write_dataset(data_yaml.parent, spec)
    return data_yaml


def _version_rows(report: dict, versions: list, measured: list[dict]) -> list[dict]:
    """The held-out figures of each version, with when it went live (minutes after the
    approval; the old one at 0) and its day drop from the old one."""
    job = report.get("job") or {}
    live = {r["model"]: r["approval_to_live_wall_s"] for r in job.get("rounds", [])}
    rows = []
    for number, (version, figures) in enumerate(zip(versions, measured, strict=True)):
        seconds = 0.0 if number == 0 else live.get(version.version)
        rows.append(
            {
                "version": version.version,
                "live_minutes_after_approval": round(seconds / 60, 2)
                if seconds is not None
                else None,
                "night_map50": figures["night"],
                "day_map50": figures["day"],
                "day_drop": round(measured[0]["day"] - figures["day"], 4),
            }
        )
    return rows
