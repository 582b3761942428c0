"""`tvdesk retrain --event ID`: queue a retraining on a drift event's captured frames."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tvdesk.config import LABELERS, default_data_dir, load_settings
from tvdesk.core.session.capture import export_frames, find_capture
from tvdesk.core.store import Store, StoreError

WAIT_POLL_S = 1.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "retrain",
        help="retrain a camera's model on one of its drift events' frames",
        description="Select frames of the drift event, label them, build and version a "
        "dataset, fine-tune the version the event's camera runs, and promote it (on that "
        "camera only) only if it is better on the drifted data without losing on the base "
        "data. Runs on the job queue.",
    )
    parser.add_argument("--event", type=int, required=True, help="drift event id")
    parser.add_argument(
        "--labeler",
        choices=LABELERS,
        help="who labels (default: the settings'; the oracle labels only the synthetic "
        "camera, the teacher labels a real one)",
    )
    parser.add_argument(
        "--labels",
        "--import-dir",
        dest="labels",
        metavar="PATH",
        help="a labelling tool's export (YOLO folder, COCO .json, Pascal VOC folder) of the "
        "event's frames; implies --labeler import (or review, to correct them first)",
    )
    parser.add_argument(
        "--export-frames",
        type=Path,
        metavar="DIR",
        help="write the event's captured frames to DIR for labelling (named by frame number, "
        "as an import expects them), and queue nothing",
    )
    parser.add_argument("--budget", type=int, help="frames to label (default 200)")
    parser.add_argument(
        "--epochs", type=int, help="fine-tuning epochs (default: as many as --minutes allows)"
    )
    parser.add_argument(
        "--minutes", type=float, help="fine-tuning time when epochs are not set (default 6.5)"
    )
    parser.add_argument("--capture", type=Path, help="capture folder (default: found by event)")
    parser.add_argument(
        "--no-worker", action="store_true", help="only queue it: do not start a local worker"
    )
    parser.add_argument("--wait", action="store_true", help="show progress until it ends")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jobs.retraining import approve_retraining

    data_dir = default_data_dir()
    labeler = args.labeler or ("import" if args.labels else None)
    settings = load_settings().retrain.with_changes(
        labeler=labeler,
        import_dir=str(Path(args.labels).expanduser().resolve()) if args.labels else None,
        label_budget=args.budget,
        epochs=args.epochs,
        train_minutes=args.minutes,
    )
    with Store() as store:
        event = next((e for e in store.drift_events.all() if e.id == args.event), None)
        if event is None:
            raise StoreError(f"there is no drift event {args.event}: the player lists them")
        capture = args.capture or find_capture(data_dir / "capture", event)
        if args.export_frames:
            written = export_frames(capture, event, args.export_frames)
            print(f"wrote {written} frames of drift event {event.id} to {args.export_frames}")
            return 0
        approved = approve_retraining(
            store,
            event,
            capture,
            settings,
            camera_id=store.drift_events.camera_of(event.id),
            start_worker=not args.no_worker,
            data_dir=data_dir,
        )
        print(f"queued retraining job #{approved.job.id} on {approved.queue}")
        if approved.worker is not None:
            print(
                f"started a local worker (pid {approved.worker.pid}, log {data_dir / 'worker.log'})"
            )
        return _follow(store, approved.job.id) if args.wait else 0


def _follow(store: Store, job_id: int) -> int:
    last = ""
    while True:
        job = store.jobs.get(job_id)
        line = f"{job.stage} {job.progress:4.0%} {job.message}"
        if line != last:
            print(line, flush=True)
            last = line
        if job.state.finished:
            return 0 if job.state.value == "succeeded" else 1
        time.sleep(WAIT_POLL_S)
