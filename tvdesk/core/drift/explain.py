"""Words for an alarm: which features drove it, by how many sigmas, and what it looks like.

The hints are deliberately few and conservative; when none fits, the sentence just names
the features, which is always true.
"""

from __future__ import annotations

from collections.abc import Mapping

from tvdesk.core.drift.features import CELL_FEATURES, GRID

MAX_NAMED = 3  # features named in a summary

_LABELS = {
    "luma_mean": "brightness",
    "luma_p05": "shadows",
    "luma_p95": "highlights",
    "contrast": "contrast",
    "saturation": "colour",
    "sharpness": "sharpness",
    "edge_density": "edges",
    "dark_channel": "haze",
    "noise": "noise",
    "edge_recall": "background edges",
    "detections": "detections per frame",
    "confidence": "detection confidence",
    "low_confidence_share": "low-confidence boxes",
}
_ROWS = ("top", "middle", "bottom")
_COLUMNS = ("left", "centre-left", "centre-right", "right")


def label(feature: str) -> str:
    """A short name an operator understands, e.g. 'sharpness (bottom right)'."""
    if feature in CELL_FEATURES:
        row, col = int(feature[-3]), int(feature[-1])
        rows = _ROWS if GRID[0] == 3 else tuple(str(r) for r in range(GRID[0]))
        cols = _COLUMNS if GRID[1] == 4 else tuple(str(c) for c in range(GRID[1]))
        return f"sharpness ({rows[row]} {cols[col]})"
    return _LABELS.get(feature, feature)


def hint(drivers: Mapping[str, float], context: Mapping[str, float] | None = None) -> str:
    """What the deviations look like, or '' when no pattern fits. `context` holds the
    current deviations of all features; the drivers' own values take precedence."""
    d = {**(context or {}), **drivers}
    luma = d.get("luma_mean", 0.0)
    if luma <= -4.0:
        return "looks like night"
    if d.get("dark_channel", 0.0) >= 3.0 or d.get("saturation", 0.0) <= -6.0:
        return "looks like fog or haze"
    if d.get("edge_recall", 0.0) <= -3.0 and abs(luma) < 3.0:
        return "the camera may have moved or been blocked"
    global_names = [name for name in drivers if name not in CELL_FEATURES]
    if not global_names and any(drivers[name] < 0 for name in drivers):
        return "part of the lens may be dirty or covered"
    if d.get("confidence", 0.0) <= -3.0 or d.get("detections", 0.0) <= -3.0:
        return "the detector sees less than usual"
    return ""


def summary(drivers: Mapping[str, float], context: Mapping[str, float] | None = None) -> str:
    """The operator's sentence, e.g. 'brightness -12σ, contrast -6σ: looks like night'."""
    if not drivers:
        return ""
    ranked = sorted(drivers.items(), key=lambda item: -abs(item[1]))[:MAX_NAMED]
    named = ", ".join(f"{label(name)} {value:+.0f}σ" for name, value in ranked)
    pattern = hint(drivers, context)
    return f"{named}: {pattern}" if pattern else named
