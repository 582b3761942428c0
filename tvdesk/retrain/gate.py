"""The promotion gate: a candidate replaces the active model only if it is really better.

Better means a set mAP50 gain on the drifted data and at most a set mAP50 loss on the base
data; otherwise the active model stays and the decision says why, in figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    drift_gain: float
    base_loss: float

    def as_dict(self) -> dict:
        return asdict(self)


def decide(
    candidate: dict[str, dict[str, float]],
    active: dict[str, dict[str, float]],
    *,
    min_gain: float,
    max_base_loss: float,
) -> GateDecision:
    """`candidate` and `active` map "drift" and "base" to evaluation figures (map50...)."""
    gain = candidate["drift"]["map50"] - active["drift"]["map50"]
    loss = active["base"]["map50"] - candidate["base"]["map50"]
    figures = (
        f"drifted mAP50 {active['drift']['map50']:.3f} -> "
        f"{candidate['drift']['map50']:.3f}, base mAP50 {active['base']['map50']:.3f} "
        f"-> {candidate['base']['map50']:.3f}"
    )
    if gain < min_gain:
        return GateDecision(
            False,
            f"kept the active model: the candidate gains {gain:+.4f} "
            f"mAP50 on the drifted data, {min_gain:.3f} is needed ({figures})",
            gain,
            loss,
        )
    if loss > max_base_loss:
        return GateDecision(
            False,
            f"kept the active model: the candidate loses {loss:.4f} "
            f"mAP50 on the base data, at most {max_base_loss:.3f} is allowed "
            f"({figures})",
            gain,
            loss,
        )
    return GateDecision(True, f"promoted: {figures}", gain, loss)


def held_in_score(figures: dict[str, dict[str, float]]) -> float:
    """How a fine-tune and its blends are compared: drifted plus base mAP50, the new
    condition and the camera's normal counted alike."""
    return figures["drift"]["map50"] + figures["base"]["map50"]


def best_share(passed: dict[float, dict[str, dict[str, float]]]) -> float:
    """Of the fine-tune shares whose figures the gate passed (1 the fine-tune alone, less a
    blend with the active model), the one to promote: the highest `held_in_score`, an equal
    score going to the smaller share, the weights that moved least."""
    if not passed:
        raise ValueError("no fine-tune share passed the gate")
    return max(passed, key=lambda share: (held_in_score(passed[share]), -share))
