"""`tvdesk demo` with a window: the app on the demo source, with the live session set up for
the demo's retraining (and auto-approval when asked)."""

from __future__ import annotations

import os
from pathlib import Path

from tvdesk.config import RetrainSettings
from tvdesk.core.drift.status import DriftConfig
from tvdesk.demo.headless import DemoOptions, demo_source
from tvdesk.ui.app import run_app


def run_demo_app(
    options: DemoOptions,
    retrain: RetrainSettings,
    home: Path | None = None,
    quit_after: float | None = None,
) -> int:
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["TVDESK_HOME"] = str(home)  # the worker sees the same data folder
    return run_app(
        quit_after=quit_after,
        video=demo_source(options),
        retrain=retrain,
        auto_approve=options.auto_approve,
        drift_config=DriftConfig(baseline_seconds=options.baseline_s),
    )
