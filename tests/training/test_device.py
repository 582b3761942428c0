"""The training device setting: "auto" is the first CUDA GPU when torch sees one, else the CPU."""

from __future__ import annotations

import torch

from tvdesk.training.device import device_name, resolve_device


def test_auto_is_the_gpu_when_there_is_one_else_the_cpu():
    expected = "0" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == resolve_device(" AUTO ") == expected


def test_a_named_device_is_kept_as_given():
    assert resolve_device("cpu") == "cpu" and resolve_device("0,1") == "0,1"


def test_the_job_record_names_the_device():
    assert device_name("cpu") == "cpu"
    if torch.cuda.is_available():
        assert device_name("0") == f"cuda:0 ({torch.cuda.get_device_name(0)})"
    else:
        assert device_name("0") == "0"  # no GPU here: said as given
