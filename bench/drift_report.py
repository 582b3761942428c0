"""Scoring and the printed table of the drift benchmark."""

from __future__ import annotations

import numpy as np

from bench.drift_methods import detection
from bench.drift_scenarios import Onset


def score_onsets(runner, onsets: list[Onset]) -> dict:
    """Per method: detections, misses, median and p90 delay, onsets with an earlier alarm."""
    delays: dict[str, list] = {}
    before: dict[str, int] = {}
    for onset in onsets:
        for method, intervals in runner.run(onset.features, onset.times).items():
            delay, early = detection(intervals, onset.onset)
            delays.setdefault(method, []).append(delay)
            before[method] = before.get(method, 0) + int(early)
    return {method: _summary(values, before[method]) for method, values in delays.items()}


def _summary(delays: list, before: int) -> dict:
    found = np.array([d for d in delays if d is not None])
    return {
        "onsets": len(delays),
        "detected": int(found.size),
        "misses": len(delays) - int(found.size),
        "alarms_before_onset": before,
        "median_s": float(np.median(found)) if found.size else None,
        "p90_s": float(np.percentile(found, 90)) if found.size else None,
        "delays_s": [None if d is None else round(float(d), 1) for d in delays],
    }


def _delay(summary: dict) -> str:
    if summary["median_s"] is None:
        return "missed all"
    return f"{summary['median_s']:.0f}/{summary['p90_s']:.0f} s"


def _night(delay: float | None) -> str:
    return "missed" if delay is None else f"{delay:.0f} s"


def print_validation(validation: dict) -> None:
    """Block deviations of the world model against rendered frames, feature by feature."""
    print(
        f"\nworld model vs rendered frames ({validation['minutes']:.0f} min, nuisance "
        f"{validation['nuisance_speedup']:.0f}x faster than a day): block z rendered/emulated"
    )
    for name, f in validation["features"].items():
        r, e = f["rendered"], f["emulated"]
        print(
            f"  {name:16s} mean {r['mean']:5.2f}/{e['mean']:5.2f}  sd {r['sd']:4.2f}/{e['sd']:4.2f}"
            f"  q01 {r['q01']:6.2f}/{e['q01']:6.2f}  q99 {r['q99']:5.2f}/{e['q99']:5.2f}"
            f"  lag1 {r['lag1']:4.2f}/{e['lag1']:4.2f}"
        )
    alarms = validation["alarms"]
    print(f"  alarms on it: rendered {alarms['rendered']}, emulated {alarms['emulated']}")


def print_table(results: dict) -> None:
    print_validation(results["validation"])
    calibration = results["calibration"]
    print(
        f"\ncalibration: {calibration['hours'] / 24:.0f} days of emulated stable video, "
        f"{calibration['method']} budget, {calibration['seconds']:.0f} s"
    )
    stable = results["stable"]
    methods = list(stable["alarms"])
    width = 24
    print(f"\nfalse alarms on {stable['hours']:.0f} h of stable video (target <= 1/day)")
    for method in methods:
        a = stable["alarms"][method]
        print(
            f"  {method:{width}s} {a['count']:6d} alarms = {a['per_day']:5.1f}/day, "
            f"in alarm {100 * a['time_in_alarm']:5.1f} % of the time"
        )
    extra = stable["ours_extra_days"]
    print(
        f"  {'ours, more days':{width}s} {extra['alarms']:6d} alarms in {extra['days']} days "
        f"= {extra['per_day']:.2f}/day"
    )
    print("\ndelay median/p90 (detected of onsets, onsets with an alarm before the onset)")
    print(f"{'scenario':28s} " + " ".join(f"{m:>22s}" for m in methods))
    for name, s in results["scenarios"].items():
        for kind in ("emulated", "rendered"):
            cells = []
            for method in methods:
                m = s[kind][method]
                counts = f"{m['detected']}/{m['onsets']},{m['alarms_before_onset']}"
                cells.append(f"{_delay(m)} ({counts})")
            label = (
                name
                if kind == "emulated"
                else (f"  rendered, {s['rendered_seconds_after_onset']:.0f} s kept")
            )
            print(f"{label:28s} " + " ".join(f"{c:>22s}" for c in cells))
    dusk = results["dusk_confidence"]
    if dusk.get("available"):
        drop = dusk["third_drop_seconds"]
        print(
            f"\ndusk: the model's mean confidence drops by a third at "
            f"{'never' if drop is None else f'{drop:.0f} s'} into the 15-min fade"
        )
    real = results["real_clips"]
    if real.get("available"):
        print("\nreal clips: baseline = first half; alarms in the second half / night delay")
        for clip, r in real["clips"].items():
            cells = [
                f"{m}: {v['second_half_alarms']} / {_night(v['night_delay_s'])}"
                for m, v in r.items()
                if isinstance(v, dict)
            ]
            print(f"  {clip:40s} " + "; ".join(cells))
    t = results["timing"]
    ours, alone, ks = (
        t[k] for k in ("ours_features_and_test_ms", "features_ms", "ks_features_and_test_ms")
    )
    print(
        f"\nms per 640x360 frame, wall (CPU): ours features+test {ours['wall']:.2f} "
        f"({ours['cpu']:.2f}), features alone {alone['wall']:.2f} ({alone['cpu']:.2f}); "
        f"seed KS features+test {ks['wall']:.2f} ({ks['cpu']:.2f})"
    )
