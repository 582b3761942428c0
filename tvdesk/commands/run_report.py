"""What `tvdesk run` tells its user: a progress line while it plays and a summary at the end."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from tvdesk.commands.counts import classes_text
from tvdesk.core.drift.event import DriftEvent
from tvdesk.core.session.counting import CameraCounting, totals_by_counter
from tvdesk.core.session.frame_loop import FrameResult, LoopOutcome
from tvdesk.core.session.live import LiveSession
from tvdesk.core.session.stream import CameraStream
from tvdesk.core.sources import SourceInfo

PROGRESS_EVERY_S = 0.25
DRIFT_STATES = {
    None: "idle (no frame seen)",
    "learning": "still learning the camera's normal (its baseline)",
    "watching": "watching",
    "alarm": "in alarm",
}


class RunTally:
    """A frame consumer that adds up what the summary reports, drift alarms included."""

    def __init__(self, drift_observer: str = "drift") -> None:
        self.drift_observer = drift_observer
        self.frames = 0
        self.per_class: Counter[str] = Counter()
        self.inference_ms = 0.0
        self.total_ms = 0.0
        self.max_latency_ms = 0.0
        self.models: list[str] = []
        self.drift_events: dict[float, DriftEvent] = {}  # by start: an ended alarm replaces it
        self.drift_state: str | None = None
        self.drift_tested = False  # a frame was tested against a reference
        self.baseline_learnt_s = 0.0  # how much of a baseline the run recorded

    def __call__(self, result: FrameResult) -> None:
        self.frames += 1
        self.per_class.update(result.detections.counts_by_name())
        self.inference_ms += result.stats.inference_ms
        self.total_ms += result.stats.total_ms
        self.max_latency_ms = max(self.max_latency_ms, result.stats.latency_ms)
        if result.model_version not in self.models:
            self.models.append(result.model_version)
        status = result.observations.get(self.drift_observer)
        if status is not None:
            self.drift_state = status.state
            self.drift_tested |= status.state != "learning"
            self.baseline_learnt_s = max(self.baseline_learnt_s, status.learnt_seconds)
            for event in (status.raised, status.ended):
                if event is not None:
                    self.drift_events[event.start] = event

    def as_dict(self) -> dict:
        frames = max(self.frames, 1)
        return {
            "frames": self.frames,
            "model_versions": self.models,
            "boxes_per_frame": {
                name: round(n / frames, 3) for name, n in self.per_class.most_common()
            },
            "mean_inference_ms": round(self.inference_ms / frames, 2),
            "mean_total_ms": round(self.total_ms / frames, 2),
            "max_latency_ms": round(self.max_latency_ms, 2),
            "detections": dict(self.per_class.most_common()),
            "drift_state": self.drift_state,
            "drift_tested": self.drift_tested,
            "baseline_learnt_s": round(self.baseline_learnt_s, 1),
            "drift_events": [
                {
                    "start": e.start,
                    "end": e.end,
                    "severity": round(e.severity, 2),
                    "summary": e.summary,
                }
                for e in self.drift_events.values()
            ],
        }


def counting_summary(counting: CameraCounting) -> list[dict]:
    """Each line and zone the run counted on, with its counts by class and direction (after
    the stream's end: the stays still open in a zone are closed)."""
    by_counter = totals_by_counter(counting.counter.totals)
    return [
        {
            "name": shape.name,
            "kind": shape.kind,
            "points": [list(p) for p in shape.points],
            "counts": by_counter.get(shape.name, {}),
        }
        for shape in counting.shapes
    ]


class ProgressLine:
    """A frame consumer that redraws one status line on stderr (use it only on a terminal)."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self._last = 0.0

    def __call__(self, result: FrameResult) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        done = result.frame.index + 1
        where = (
            f"{done}/{self.total} frames ({100 * done / self.total:.0f}%)"
            if self.total
            else f"{done} frames"
        )
        print(
            f"\r  {where}  {result.stats.fps:.1f} fps  {result.stats.dropped} dropped ",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def finish(self) -> None:
        if self._last:
            print(file=sys.stderr)


def print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    print("\n".join(summary_lines(summary)))


def summary_lines(s: dict) -> list[str]:
    size = "x".join(map(str, s["size"])) if s["size"] else "size unknown"
    fps = f" @ {s['fps']:g} fps" if s["fps"] else ""
    detections = (
        ", ".join(
            f"{name} {n} ({s['boxes_per_frame'][name]:g}/frame)"
            for name, n in s["detections"].items()
        )
        or "none"
    )
    lines = [
        f"camera:      {s['camera']} (source {s['source']}: {s['kind']}, {size}{fps})",
        f"model:       {s['model']} ({s['precision']}, version "
        f"{', '.join(s['model_versions']) or '-'})",
        f"frames:      {s['frames']} processed, {s['dropped']} dropped, in {s['seconds']:.1f} s "
        f"({s['processing_fps']:.1f} fps); stopped by {s['stopped_by']}",
        f"per frame:   inference {s['mean_inference_ms']:.1f} ms, total "
        f"{s['mean_total_ms']:.1f} ms, worst latency {s['max_latency_ms']:.0f} ms",
        f"detections:  {detections}",
        drift_line(s),
        *counting_lines(s["counting"]),
        *(f"  alarm at {e['start']:.1f} s: {e['summary']}" for e in s["drift_events"]),
        *(f"note:        {event['message']}" for event in s["events"]),
        f"recorded:    session {s['session_id']} in {s['database']}",
    ]
    if s["output"]:
        lines.append(f"video:       {s['output']}")
    return lines


def drift_line(s: dict) -> str:
    """What the summary says of drift: never "no drift" for a run that never tested it."""
    if not s["drift_tested"]:
        return (
            "drift:       not tested: the camera was still learning its normal "
            f"({s['baseline_learnt_s']:g} of {s['baseline_seconds']:g} s of video; "
            "--baseline sets how long)"
        )
    return (
        f"drift:       {len(s['drift_events'])} event(s); the monitor is "
        f"{DRIFT_STATES.get(s['drift_state'], s['drift_state'])}; tested against "
        f"{s['drift_reference']}"
    )


def counting_lines(counting: list[dict]) -> list[str]:
    """What the summary says of the lines and zones: each one's counts by class and direction."""
    if not counting:
        return ["counting:    no counting lines or zones (--line, --zone, or draw them in the app)"]
    lines = []
    for counter in counting:
        where = " -> ".join(f"({x:g}, {y:g})" for x, y in counter["points"])
        lines.append(
            f"{'counting:' if not lines else '':<13}{counter['name']} ({counter['kind']} {where}): "
            f"{classes_text(counter['counts'])}"
        )
    return lines


def camera_summary(
    session: LiveSession,
    stream: CameraStream,
    info: SourceInfo,
    tally: RunTally,
    outcome: LoopOutcome,
    stopped_by: str,
) -> dict:
    """What one camera's run did, as the summary reports it."""
    reference = stream.monitor.profile
    return {
        "camera": stream.camera.name,
        "source": info.name,
        "kind": info.kind,
        "fps": info.fps,
        "size": list(info.size) if info.size else None,
        "model": str(session.slot.current.path),
        "precision": session.slot.current.precision,
        **tally.as_dict(),
        "baseline_seconds": session.drift_config.baseline_seconds,
        "drift_reference": reference.source if reference is not None else None,
        "counting": counting_summary(stream.counting),
        "dropped": outcome.dropped,
        "seconds": round(outcome.seconds, 3),
        "processing_fps": round(tally.frames / outcome.seconds, 2) if outcome.seconds else 0.0,
        "stopped_by": stopped_by,
        "output": None,
        "session_id": stream.recorder.session_id,
        "database": str(session.db_path),
    }
