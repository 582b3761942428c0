"""Screenshots of real footage and of the camera wall, for the README and docs/screenshots/.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/wall_screenshots.py

Only footage that may be shown is used: the Intel overhead clip of `../shared/realdata`
(CC BY 4.0, intel-iot-devkit/sample-videos; credited in the README) and the synthetic camera.
The wall's extra tiles are copies of that clip under other names (each a camera of its own,
started at another moment). Shots: the app on the clip with the traffic model's real boxes;
the wall at 2x2 and 3x3; an alarm of the synthetic camera in the alarm list; the full view of
a camera opened from the wall.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "realdata" / "videos" / "overhead_day_intel_car-detection.mp4"
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)
logger = logging.getLogger("wall_screenshots")


def wait(app, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def wait_for_boxes(app, window, boxes: int, seconds: float) -> None:
    """Until the frame in view shows at least `boxes` detections (cars passing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(window.video.detections) < boxes:
        app.processEvents()
        time.sleep(0.02)


def shoot(widget, name: str) -> None:
    path = OUT / f"{name}-{SIZE[0]}x{SIZE[1]}.png"
    widget.grab().save(str(path))
    logger.info("wrote %s", path)


def clips(folder: Path, count: int) -> list[Path]:
    """`count` copies of the Intel clip, each a camera of its own (its own path)."""
    names = ["gate", "overpass", "car park", "junction", "exit", "bridge", "depot", "ramp"]
    copies = []
    for name in names[:count]:
        target = folder / f"{name}.mp4"
        shutil.copyfile(CLIP, target)
        copies.append(target)
    return copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not CLIP.exists():
        parser.error(f"{CLIP} is missing: the screenshots need ../shared/realdata")
    if not os.environ.get("DISPLAY"):
        parser.error('run it under Xvfb: xvfb-run -a -s "-screen 0 1920x1080x24" ...')
    home = Path(tempfile.mkdtemp(prefix="tvdesk-wall-shots-"))
    os.environ["TVDESK_HOME"] = str(home)
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("tvdesk-screenshots")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "qt"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    app = QApplication(sys.argv[:1])
    from tvdesk.config import load_settings
    from tvdesk.core.sources import SyntheticSource, open_source
    from tvdesk.ui.app import build_window, close_window

    settings = replace(load_settings(), data_dir=home, baseline_seconds=30.0)
    source = open_source(str(CLIP), loop=True)
    window = build_window(settings, None, source.info, poll_s=0.5)
    window.resize(*SIZE)
    window.move(0, 0)
    window.show()
    try:
        window.player.play(source)
        wait(app, 6.0)
        wait_for_boxes(app, window, 3, 60.0)
        shoot(window, "real-intel-overhead")
        wall = window.wall_view
        for clip in clips(home, 7):
            wall.add_camera(str(clip))
            wait(app, 1.0)
        night = SyntheticSource("day-night", fps=10.0)
        wall.add_camera("synthetic:day-night")
        wall.cameras[-1].player.play(night)
        wall.show_wall()
        wall.wall.set_side(2)
        wait(app, 10.0)
        shoot(window, "wall-2x2")
        wall.wall.set_side(3)
        wait(app, 75.0)  # the synthetic camera's night falls: its tile turns red, an alarm
        shoot(window, "wall-3x3")
        wall.dock.raise_()
        if wall.alarms.rows:
            wall.alarms.table.selectRow(0)
        wait(app, 1.0)
        shoot(window, "wall-alarm-list")
        wall.show_focus(wall.cameras[1])
        wait(app, 3.0)
        wait_for_boxes(app, window, 2, 40.0)
        shoot(window, "wall-focused")
    finally:
        close_window(window)
        logger.info("app data in %s", home)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
