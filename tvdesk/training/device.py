"""Which torch device a retraining runs on: the `device` setting, "auto" by default.

"auto" is the first CUDA GPU when this machine's torch sees one, else the CPU, so the same
settings train on a GPU box and on a laptop; any other value ("cpu", "0", "0,1") is used as
given. `device_name` says in words which one it was, for the job record and the worker's log.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

AUTO = "auto"
CPU = "cpu"


def resolve_device(setting: str) -> str:
    """The Ultralytics device for `setting`: "auto" becomes "0" (first GPU) or "cpu"."""
    if setting.strip().lower() != AUTO:
        return setting
    import torch

    return "0" if torch.cuda.is_available() else CPU


def device_name(device: str) -> str:
    """ "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" for a GPU device such as "0"."""
    if device.strip().lower() == CPU:
        return CPU
    import torch

    first = device.split(",")[0].strip().removeprefix("cuda:")
    if not first.isdigit() or not torch.cuda.is_available():
        return device
    index = int(first)
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
