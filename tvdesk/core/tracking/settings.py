"""The settings of tracking and counting: one frozen dataclass, each field with its help text."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

ANCHORS = ("bottom-centre", "centre")


@dataclass(frozen=True)
class TrackingSettings:
    """How detections become tracks, and how tracks are counted on lines and in zones.

    Times are in seconds of the stream, so the settings hold whatever the frame rate and
    whether every frame or every k-th frame is detected.
    """

    high_score: float = field(
        default=0.5,
        metadata={
            "help": "detections at or above this score are matched first and may start a "
            "track; those below it (down to the detector's own threshold) only extend "
            "tracks that exist (ByteTrack's second stage)"
        },
    )
    new_track_score: float = field(
        default=0.4,
        metadata={
            "help": "the lowest score of a detection that starts a track (0.4: on the "
            "synthetic day, ByteTrack's usual 0.6 started the tracks of oncoming motorcycles, "
            "scored 0.3-0.6 until near, too late to count them; bench/counts.py)"
        },
    )
    match_iou: float = field(
        default=0.2,
        metadata={"help": "the lowest IoU of a track's predicted box and a detection to match"},
    )
    match_buffer: float = field(
        default=0.3,
        metadata={
            "help": "share of its width and height that both boxes of a track-detection pair "
            "are grown by on each side before their IoU (C-BIoU), for each 0.1 s between "
            "detected frames (1 to 3 times): fast vehicles, new tracks whose speed is not "
            "known yet, and detecting every k-th frame still match"
        },
    )
    duplicate_iou: float = field(
        default=0.7,
        metadata={
            "help": "a detection overlapping a higher-scored one of another class by this "
            "IoU is the same vehicle boxed twice (the detector's NMS is per class: a lorry "
            "comes out as a bus and a truck) and is left out of tracking; 1 keeps every box"
        },
    )
    confirm_hits: int = field(
        default=2,
        metadata={
            "help": "detections a new track needs in a row before it gets an id (a lone "
            "false detection never gets one)"
        },
    )
    max_lost_s: float = field(
        default=1.0,
        metadata={
            "help": "how long a track keeps its id without a detection: 10 missed frames at "
            "10 fps, 25 at 25 fps; its box coasts at its last velocity meanwhile"
        },
    )
    velocity_smoothing: float = field(
        default=0.5,
        metadata={"help": "weight of the newest displacement in a track's velocity, 0-1"},
    )
    anchor: str = field(
        default="bottom-centre",
        metadata={
            "help": "the point of a box that lines and zones test: bottom-centre (where a "
            "vehicle meets the road) or centre"
        },
    )
    line_margin_px: float = field(
        default=4.0,
        metadata={
            "help": "half-width of the band around a counting line: a track's side only "
            "changes once its anchor is this far past the line, so jitter on it counts nothing"
        },
    )

    class_settle_s: float = field(
        default=0.5,
        metadata={
            "help": "how long a line's count waits for the track's class vote to settle "
            "before it is recorded (a car coming into view behind a lorry is often called a "
            "motorcycle on its first frame); 0 records the class the track has as it crosses"
        },
    )
    count_hidden_crossings: bool = field(
        default=True,
        metadata={
            "help": "count a vehicle that crossed a line hidden behind a nearer one: a new "
            "track first seen past the line, driving away from it, whose path traced back "
            "crosses the line where nothing was counted in that direction just before"
        },
    )

    def __post_init__(self) -> None:
        for name in (
            "high_score",
            "new_track_score",
            "match_iou",
            "match_buffer",
            "duplicate_iou",
            "velocity_smoothing",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.confirm_hits < 1:
            raise ValueError(f"confirm_hits must be 1 or more, got {self.confirm_hits}")
        if self.max_lost_s < 0 or self.line_margin_px < 0 or self.class_settle_s < 0:
            raise ValueError("max_lost_s, line_margin_px and class_settle_s must be 0 or more")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {self.anchor!r}")

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's description, for a settings dialog or `--help`."""
        return {f.name: f.metadata["help"] for f in fields(cls)}
