"""Screenshots of the desktop app for the docs, taken from a real window under Xvfb.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py

It runs the real thing in a fresh app data folder: the synthetic camera turns from day to
night, the drift alarm raises the banner, the retraining is approved and trains in the local
worker process the app starts, the promoted model appears in the models panel and plays the
night, and the review dialog opens on the alarm's frames with the teacher's pre-labels. Each
view is saved at 1280x800 and 1920x1080 as docs/screenshots/<view>-<width>x<height>.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

logger = logging.getLogger("screenshots")

SIZES = ((1280, 800), (1920, 1080))
OUT = ROOT / "docs" / "screenshots"
REVIEW_FRAMES = 6
REVIEW_CANDIDATES = 18  # alarm frames the teacher looks at to pick the review's frames


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until `predicate()` holds; TimeoutError naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        settle(0.05)


def settle(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def shoot(widget: QWidget, name: str) -> None:
    """The widget's window as the X server shows it, at each size."""
    for width, height in SIZES:
        widget.move(0, 0)  # all of it on the screen: the grab takes what the screen shows
        widget.resize(width, height)
        settle(1.2)  # layouts, a dashboard redraw (10 Hz), thumbnails
        image = widget.screen().grabWindow(widget.winId())
        path = OUT / f"{name}-{width}x{height}.png"
        image.save(str(path))
        logger.info("saved %s (%dx%d)", path.relative_to(ROOT), image.width(), image.height())


def isolate(home: Path) -> None:
    """App data and UI state in `home`, so nothing of the user's is read or changed."""
    os.environ["TVDESK_HOME"] = str(home)
    QCoreApplication.setOrganizationName("tvdesk-screenshots")
    QCoreApplication.setApplicationName("tvdesk")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "ui"))


def retrain_settings(home: Path):
    """A real but small retraining: oracle labels, a small base set, a few epochs."""
    from tvdesk.config import RetrainSettings
    from tvdesk.core.synth.dataset import DatasetSpec, write_dataset

    base = write_dataset(home / "base-small", DatasetSpec(train=40, val=12))
    return RetrainSettings(
        labeler="oracle",
        label_budget=40,
        replay=40,
        epochs=6,
        patience=6,
        imgsz=320,
        batch=8,
        base_data=str(base),
        min_gain=-1.0,
        max_base_loss=1.0,
        refine_minutes=0.0,  # the screenshots show the first swap
    )


def alarm_and_banner(window) -> None:
    from tvdesk.core.sources import SyntheticSource
    from tvdesk.core.synth.camera import Scenario, Segment

    scenario = Scenario("day to night", (Segment("day", 30.0), Segment("night", 900.0)))
    window.player.play(SyntheticSource(scenario, fps=4.0, paced=False), every_frame=True)
    wait_until(lambda: window.dashboard.history.times and window.frames_shown > 80, 600, "day")
    shoot(window, "main")
    banner = window.session_view.banner
    wait_until(banner.isVisible, 600, "the drift alarm")
    wait_until(
        lambda: all(t.pixmap() and not t.pixmap().isNull() for t in banner.thumbnails),
        30,
        "samples",
    )
    shoot(window, "drift-banner")


def training(window, home: Path) -> None:
    from tvdesk.core.store import Store, database_path
    from tvdesk.core.store.job import JobState

    view = window.session_view
    view.banner.approve_button.click()
    wait_until(lambda: view.jobs.table.rowCount() > 0, 60, "the queued job")
    view.jobs_dock.raise_()  # the night goes on while the job collects frames and trains
    with Store(database_path(home)) as store:

        def training_epochs() -> bool:
            job = store.jobs.all(limit=1)[0]
            if job.state.finished:
                raise RuntimeError(f"the job ended before the screenshot: {job.message}")
            return job.stage == "train" and len(job.result.get("epochs", [])) >= 3

        wait_until(training_epochs, 1800, "three epochs of training")
        window.resizeDocks([view.jobs_dock], [330], Qt.Orientation.Vertical)  # more curve
        settle(1.0)
        shoot(window, "jobs")
        wait_until(lambda: store.jobs.all(limit=1)[0].state.finished, 1800, "the job's end")
        job = store.jobs.all(limit=1)[0]
        if job.state != JobState.SUCCEEDED or not job.result.get("promoted"):
            raise RuntimeError(f"the job did not promote a model: {job.message}")
    wait_until(lambda: window.model_label.text().endswith("v2"), 120, "the hot-swap")
    view.models.refresh()
    view.models_dock.raise_()
    shoot(window, "models")


def after_swap(window) -> None:
    """The night goes on with the new model: its boxes, and the drift charts measured against
    the new version's own reference (night is its training data, so no longer drift)."""
    shown = window.frames_shown
    wait_until(lambda: window.frames_shown > shown + 80, 600, "night frames with the new model")
    window.session_view.models_dock.raise_()
    shoot(window, "after-swap")


def review(window, home: Path) -> None:
    """The review dialog on the alarm's frames where the teacher (the active model) finds the
    most vehicles, as a `review` labeler would have prepared them."""
    from tvdesk.core.session.capture import load_frame, stored_indices
    from tvdesk.retrain.labelers import ReviewLabeler, ReviewPending, TeacherLabeler
    from tvdesk.retrain.review_folder import ReviewFolder
    from tvdesk.retrain.teacher import EnsembleTeacher
    from tvdesk.ui.review_dialog import LabelReviewDialog

    window.player.close_source()  # the capture folder holds still from here on
    pins = next((home / "capture").glob("*/pins.json"))
    capture = pins.parent
    pinned = {i for pin in json.loads(pins.read_text()) for i in pin["frames"]}
    indices = sorted(pinned & set(stored_indices(capture)))
    teacher = TeacherLabeler(EnsembleTeacher(window.player.slot.current.path), keep_doubtful=True)
    step = max(1, len(indices) // REVIEW_CANDIDATES)
    candidates = [load_frame(capture, i) for i in indices[::step]]
    found = {f.index: len(teacher.boxes(cv2.imread(str(f.image)))) for f in candidates}
    frames = sorted(candidates, key=lambda f: -found[f.index])[:REVIEW_FRAMES]
    frames.sort(key=lambda f: f.index)
    with contextlib.suppress(ReviewPending):  # what it says when the frames are ready
        ReviewLabeler(home / "review", teacher).label(frames)
    folder = ReviewFolder(home / "review", capture)
    dialog = LabelReviewDialog(folder, window.player.slot.current.names, window)
    dialog.show()
    dialog.accept_frame()
    dialog.canvas.select(min(1, len(dialog.canvas.boxes) - 1))
    shoot(dialog, "review")
    dialog.close()


def stop_workers(approver) -> None:
    """End the local workers the approval started (each with its children)."""
    for worker in approver.workers:
        with contextlib.suppress(ProcessLookupError):  # it has ended by itself
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary app data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb" or not os.environ.get("DISPLAY"):
        parser.error('run it under Xvfb: xvfb-run -a -s "-screen 0 1920x1080x24" ...')
    home = Path(tempfile.mkdtemp(prefix="tvdesk-screenshots-"))
    isolate(home)
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    from jobs.retraining import RetrainApprover
    from tvdesk.config import Settings
    from tvdesk.ui.app import build_window, close_window

    approver = RetrainApprover(retrain_settings(home), home)
    window = build_window(Settings(data_dir=home, inference_threads=1), approver, poll_s=0.5)
    window.move(0, 0)
    window.show()
    try:
        alarm_and_banner(window)
        training(window, home)
        after_swap(window)
        review(window, home)
    finally:
        close_window(window)
        stop_workers(approver)
        logger.info("app data kept in %s" if args.keep else "done (%s)", home)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
