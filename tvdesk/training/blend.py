"""Blend a fine-tuned checkpoint with the one it started from, weight by weight.

A fine-tune that learns a new condition forgets some of the old one. Averaging its weights
with its starting point's (Wortsman et al., "Robust fine-tuning of zero-shot models",
CVPR 2022: WiSE-FT) moves it back towards what it knew along a path on which both tasks
stay good, because both sets of weights descend from the same training. `weight` 1 is the
fine-tuned model, 0 the start; BatchNorm statistics blend the same way.
"""

from __future__ import annotations

import io
from pathlib import Path

from tvdesk.core import atomic


def blend_checkpoints(start: Path, tuned: Path, weight: float, out: Path) -> Path:
    """Write `weight` x tuned + (1 - weight) x start as an Ultralytics checkpoint at `out`
    (the tuned checkpoint's metadata, its model blended); returns `out`."""
    import torch

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight}")
    first, last = _load(start), _load(tuned)
    model = last["model"]
    theirs, ours = first["model"].float().state_dict(), model.float().state_dict()
    if theirs.keys() != ours.keys() or any(theirs[k].shape != v.shape for k, v in ours.items()):
        raise ValueError(f"{tuned} and {start} are not the same architecture: cannot blend them")
    model.load_state_dict(
        {
            key: torch.lerp(theirs[key], value, weight) if value.is_floating_point() else value
            for key, value in ours.items()
        }
    )
    checkpoint = {**last, "model": model.half(), "ema": None, "optimizer": None}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic.write_bytes(out, buffer.getvalue())
    return out


def _load(path: Path) -> dict:
    import torch

    from tvdesk.training.offline import ultralytics_offline

    ultralytics_offline()  # the checkpoint's classes live in ultralytics
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if checkpoint.get("ema") is not None:  # a checkpoint saved mid-training: the EMA is the model
        checkpoint = {**checkpoint, "model": checkpoint["ema"]}
    return checkpoint
