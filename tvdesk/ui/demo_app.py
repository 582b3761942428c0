"""`tvdesk demo` with a window: the app on the demo source, with the live session set up for
the demo's retraining (and auto-approval when asked)."""

from __future__ import annotations

from tvdesk.config import Settings
from tvdesk.core.drift.status import DriftConfig
from tvdesk.core.session.approver import Approver
from tvdesk.demo.headless import DemoOptions, demo_source
from tvdesk.ui.app import run_app


def run_demo_app(
    options: DemoOptions,
    settings: Settings,
    approver: Approver,
    quit_after: float | None = None,
) -> int:
    """Play the demo source in the main window; `settings.data_dir` is the demo's data folder
    (the approver queues into the same one, so its worker sees the same data)."""
    return run_app(
        settings,
        approver,
        quit_after=quit_after,
        video=demo_source(options),
        auto_approve=options.auto_approve,
        drift_config=DriftConfig(baseline_seconds=options.baseline_s),
    )
