"""The tracker keeps ids through misses and frame-rate changes; lines count once per track."""

from __future__ import annotations

import numpy as np
import pytest

from tvdesk.core.detector.detections import Detections
from tvdesk.core.tracking import CountingLine, Tracker, TrackingSettings, TrafficCounter

NAMES = ("car", "truck", "bus", "motorcycle")
FPS = 10.0


def boxes_at(*boxes: tuple, scores: tuple = (), classes: tuple = ()) -> Detections:
    """Detections of the given (x1, y1, x2, y2) boxes; cars scored 0.9 unless said."""
    n = len(boxes)
    return Detections(
        np.array(boxes, np.float32).reshape(n, 4),
        np.array(scores or (0.9,) * n, np.float32),
        np.array(classes or (0,) * n, np.int64),
        NAMES,
    )


def car_at(y_bottom: float, x: float = 300.0, score: float = 0.9, class_id: int = 0):
    """A 40x30 px box whose bottom edge is at `y_bottom`."""
    return boxes_at((x, y_bottom - 30, x + 40, y_bottom), scores=(score,), classes=(class_id,))


def drive(counter: TrafficCounter, bottoms: list[float], start: float = 0.0):
    """Feed one box per frame at 10 fps; returns the CountingFrames."""
    return [counter.update(car_at(y), start + i / FPS) for i, y in enumerate(bottoms)]


def ids_of(tracks_list) -> list[int]:
    """Every id in a list of `Tracks`, in order."""
    return [int(i) for tracks in tracks_list for i in tracks.ids]


ACROSS = CountingLine("road", 0, 200, 640, 200)  # drawn left to right: moving down is "in"


def test_a_box_moving_down_across_a_line_drawn_left_to_right_counts_in():
    frames = drive(TrafficCounter([ACROSS]), list(range(150, 270, 10)))
    assert frames[-1].totals == {("road", "car", "in"): 1}  # crossed at 0.6 s, class settled
    assert [e.direction for f in frames for e in f.events] == ["in"]


def test_a_box_moving_up_counts_out_and_reversing_the_line_swaps_the_direction():
    up = list(range(260, 130, -10))
    assert drive(TrafficCounter([ACROSS]), up)[-1].totals == {("road", "car", "out"): 1}
    reversed_line = CountingLine("road", 640, 200, 0, 200)
    assert drive(TrafficCounter([reversed_line]), up)[-1].totals == {("road", "car", "in"): 1}


def test_a_track_jittering_on_the_line_is_counted_once():
    approach = [150, 160, 170, 180, 190]
    jitter = [196, 205, 194, 207, 193, 206, 195, 208, 192, 204, 199, 201]  # +-8 px about 200
    frames = drive(TrafficCounter([ACROSS]), approach + jitter + [215, 225, 235])
    assert len(set(ids_of(f.tracks for f in frames))) == 1, "the jitter must not break the track"
    assert frames[-1].totals == {("road", "car", "in"): 1}


def test_a_box_that_stops_inside_the_band_is_not_counted():
    frames = drive(TrafficCounter([ACROSS]), [170, 180, 190, 198, 201, 199, 202, 200])
    assert frames[-1].totals == {}


def test_a_crossing_beside_the_segment_is_not_counted():
    short = CountingLine("lane", 0, 200, 200, 200)  # ends well left of the box at x 300-340
    assert drive(TrafficCounter([short]), list(range(150, 260, 10)))[-1].totals == {}


def test_a_track_missed_for_a_few_frames_keeps_its_id():
    tracker = Tracker()
    seen = []
    for i in range(30):
        if 10 <= i < 16:  # six frames missed, 0.6 s < max_lost_s
            tracker.update(boxes_at(), i / FPS)
            continue
        seen.append(tracker.update(car_at(100 + 8 * i), i / FPS))
    assert ids_of(seen) == [1] * (len(seen) - 1), "one id from its second frame on"


def test_a_track_missed_for_longer_than_max_lost_s_comes_back_with_a_new_id():
    tracker = Tracker(TrackingSettings(max_lost_s=0.3))
    first = [tracker.update(car_at(100 + 8 * i), i / FPS) for i in range(5)]
    for i in range(5, 10):
        tracker.update(boxes_at(), i / FPS)
    later = [tracker.update(car_at(100 + 8 * i), i / FPS) for i in range(10, 14)]
    assert ids_of(first) == [1] * 4
    assert ids_of(later) == [2] * 3


def test_detecting_every_third_frame_keeps_the_ids_of_fast_vehicles():
    """30 px a frame at 10 fps (90 px between detections) for a 40x30 box: no overlap at
    all between detected frames, so only the velocity carries the track."""
    tracker = Tracker()
    every_frame = [tracker.update(car_at(100 + 30 * i), i / FPS) for i in range(4)]
    sparse = [tracker.update(car_at(100 + 30 * i), i / FPS) for i in range(6, 24, 3)]
    assert ids_of(every_frame + sparse) == [1] * 9, "every detected frame after the first"


def test_a_new_track_is_found_again_when_only_every_third_frame_is_detected():
    """45 px between detected frames for a 40x30 box: no velocity yet, and barely any overlap;
    the match buffer grows with the time between detected frames (0.3 s), so they still match."""
    tracker = Tracker()
    out = [tracker.update(car_at(100 + 15 * i), i / FPS) for i in range(0, 18, 3)]
    assert ids_of(out) == [1] * 5


def test_two_vehicles_side_by_side_keep_their_own_ids():
    tracker = Tracker()
    for i in range(20):
        y = 100 + 10 * i
        tracks = tracker.update(
            boxes_at((100, y - 30, 140, y), (160, y - 30, 200, y), classes=(0, 3)), i / FPS
        )
        if i > 0:
            assert tracks.ids.tolist() == [1, 2]
    assert tracks.labels() == ["car", "motorcycle"]


def test_a_weak_detection_extends_a_track_but_never_starts_one():
    tracker = Tracker()
    scores = [0.9, 0.9, 0.3, 0.3, 0.9]
    out = [tracker.update(car_at(100 + 8 * i, score=s), i / FPS) for i, s in enumerate(scores)]
    assert ids_of(out) == [1, 1, 1, 1]
    lone = Tracker()
    assert [len(lone.update(car_at(100 + 8 * i, score=0.3), i / FPS)) for i in range(5)] == [0] * 5


def test_a_lone_false_detection_never_gets_an_id():
    tracker = Tracker()
    assert len(tracker.update(car_at(150), 0.0)) == 0
    assert len(tracker.update(boxes_at(), 0.1)) == 0
    assert len(tracker.update(car_at(150, x=500), 0.2)) == 0


def drive_lorry(counter: TrafficCounter) -> list:
    """A lorry driving down across the line, boxed as a truck (0.8) and a bus (0.7)."""
    frames = []
    for i in range(12):
        y = 150 + 10 * i
        boxes = ((300, y - 80, 380, y), (301, y - 79, 380, y))
        frames.append(counter.update(boxes_at(*boxes, scores=(0.8, 0.7), classes=(1, 2)), i / FPS))
    return frames


def test_a_lorry_boxed_as_both_bus_and_truck_is_one_track_and_one_count():
    """The detector's NMS is per class, so one vehicle can come out twice."""
    frames = drive_lorry(TrafficCounter([ACROSS]))
    assert max(len(f.tracks) for f in frames) == 1
    assert frames[-1].totals == {("road", "truck", "in"): 1}
    keep_both = TrafficCounter([ACROSS], settings=TrackingSettings(duplicate_iou=1.0))
    assert sum(drive_lorry(keep_both)[-1].totals.values()) == 2, "without the rule: twice"


def test_the_class_of_a_track_is_its_vote_not_the_last_frame():
    tracker = Tracker()
    classes = [0, 0, 0, 1, 0, 1]  # a car seen twice as a truck
    for i, c in enumerate(classes):
        tracks = tracker.update(car_at(100 + 8 * i, class_id=c), i / FPS)
    assert tracks.labels() == ["car"]


def test_time_going_back_restarts_the_tracks_with_new_ids():
    tracker = Tracker()
    for i in range(3):
        tracker.update(car_at(100 + 8 * i), 5.0 + i / FPS)
    assert [tracker.update(car_at(100 + 8 * i), i / FPS).ids.tolist() for i in range(3)] == [
        [],
        [2],
        [2],
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"match_iou": 1.5}, "match_iou must be between 0 and 1"),
        ({"confirm_hits": 0}, "confirm_hits must be 1 or more"),
        ({"max_lost_s": -1.0}, "max_lost_s, line_margin_px and class_settle_s must be 0 or"),
        ({"anchor": "top"}, "anchor must be one of bottom-centre, centre"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        TrackingSettings(**settings)


def test_every_setting_has_a_description():
    assert all(len(text) > 20 for text in TrackingSettings.help().values())


def lorry_and_hidden_car(counter: TrafficCounter, hidden: range) -> list:
    """A lorry drives down across the line at 10 px a frame; a car follows it 80 px (0.8 s)
    behind, in its lane, and is not detected in the frames `hidden` (behind the lorry)."""
    frames = []
    for i in range(26):
        lorry = (300, 70 + 10 * i, 380, 150 + 10 * i)
        car = (310, 40 + 10 * i, 350, 70 + 10 * i)
        boxes = (lorry,) if i in hidden else (lorry, car)
        classes = (1,) if i in hidden else (1, 0)
        frames.append(counter.update(boxes_at(*boxes, classes=classes), i / FPS))
    return frames


def test_a_car_hidden_behind_a_lorry_as_it_crosses_counts_when_it_comes_back_past_the_line():
    """Seen above the line, then hidden for 1.3 s (its track is dropped), then seen again
    below it, driving away: its path traced back crossed the line 0.8 s after the lorry."""
    frames = lorry_and_hidden_car(TrafficCounter([ACROSS]), range(4, 17))
    assert len(set(ids_of(f.tracks for f in frames))) == 3, "the car comes back with a new id"
    assert frames[-1].totals == {("road", "truck", "in"): 1, ("road", "car", "in"): 1}
    off = TrafficCounter([ACROSS], settings=TrackingSettings(count_hidden_crossings=False))
    assert lorry_and_hidden_car(off, range(4, 17))[-1].totals == {("road", "truck", "in"): 1}


def test_a_second_box_on_a_counted_vehicle_is_not_a_hidden_crossing():
    """A car counted as it crosses; past the line a second, offset box of another class
    starts a track on it, driving away from the line: the same crossing, counted once."""
    counter = TrafficCounter([ACROSS])
    for i in range(20):
        y = 150 + 10 * i
        car = (300, y - 30, 340, y)
        boxes = (car, (306, y - 36, 346, y - 4)) if i >= 8 else (car,)
        frame = counter.update(boxes_at(*boxes, classes=(0, 3)[: len(boxes)]), i / FPS)
    assert len(set(frame.tracks.ids.tolist())) == 2
    assert frame.totals == {("road", "car", "in"): 1}


def test_a_track_first_seen_past_the_line_driving_towards_it_is_counted_only_when_it_crosses():
    frames = drive(TrafficCounter([ACROSS]), list(range(300, 240, -10)))
    assert frames[-1].totals == {}


def test_a_count_takes_the_class_its_track_settles_on():
    """A car called a motorcycle on its first frames, as it comes into view at the line."""
    classes = [3, 3, 0, 0, 0, 0, 0, 0, 0, 0]
    bottoms = list(range(190, 290, 10))

    def totals(settings: TrackingSettings) -> dict:
        counter = TrafficCounter([ACROSS], settings=settings)
        for i, (y, c) in enumerate(zip(bottoms, classes, strict=True)):
            frame = counter.update(car_at(y, class_id=c), i / FPS)
        return dict(frame.totals)

    assert totals(TrackingSettings()) == {("road", "car", "in"): 1}
    assert totals(TrackingSettings(class_settle_s=0.0)) == {("road", "motorcycle", "in"): 1}


def test_a_count_still_waiting_for_its_class_is_kept_when_the_stream_ends():
    counter = TrafficCounter([ACROSS])
    for i, y in enumerate(range(180, 230, 10)):
        frame = counter.update(car_at(y), i / FPS)
    assert frame.totals == {}, "crossed 0.2 s ago: its class is not settled yet"
    rows = counter.flush()
    assert counter.totals == {("road", "car", "in"): 1}
    assert [(r.direction, r.class_name, r.count) for r in rows] == [("in", "car", 1)]
