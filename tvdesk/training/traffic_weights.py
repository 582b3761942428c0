"""Turn the int8 COCO YOLOv8n export into a trainable fp32 Ultralytics model.

The export stores each conv with its BatchNorm folded in: int8 weights with one scale per
tensor and a float32 bias. Dequantised, they load into the `yolov8n.yaml` model (module names
match). A BatchNorm is then put back that computes the same function in eval mode, with the
running statistics of real frames, so that training (batch statistics) starts where the
export stands instead of from unit statistics that no conv output has.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tvdesk.training.offline import ultralytics_offline

if TYPE_CHECKING:
    from torch import nn
    from ultralytics.nn.tasks import DetectionModel

logger = logging.getLogger(__name__)

QUANTIZED = ".weight_quantized"
DFL_CONV = "model.22.dfl.conv"  # the fixed DFL arange: the model's own is kept


@dataclass(frozen=True)
class FusedConv:
    """One conv of the export, dequantised: its weight and its bias (BatchNorm folded in)."""

    weight: np.ndarray  # float32 [out, in, k, k]
    bias: np.ndarray  # float32 [out]


@dataclass
class _ChannelMoments:
    """Running per-channel sums of one conv's output over the calibration frames."""

    count: int = 0
    total: np.ndarray | None = None
    squares: np.ndarray | None = None

    def add(self, output) -> None:
        import torch

        values = output.detach()
        total = torch.sum(values, (0, 2, 3), dtype=torch.float64).numpy()
        squares = torch.sum(values * values, (0, 2, 3), dtype=torch.float64).numpy()
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares
        self.count += values.numel() // values.shape[1]

    def mean_var(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.total / self.count
        return mean, np.maximum(self.squares / self.count - mean * mean, 0.0)


def read_fused_convs(onnx_path: Path) -> dict[str, FusedConv]:
    """Every conv of the export as `(q - zero_point) * scale` and its bias, keyed by the
    Ultralytics conv's name (`model.0.conv`, ..., `model.22.cv3.2.2`); the DFL conv is left out."""
    import onnx
    from onnx import numpy_helper

    tensors = {t.name: t for t in onnx.load(str(onnx_path)).graph.initializer}
    convs = {}
    for key in sorted(k for k in tensors if k.endswith(QUANTIZED)):
        name = key.removesuffix(QUANTIZED)
        if name == DFL_CONV:
            continue
        q, scale, zero, bias = (
            numpy_helper.to_array(tensors[f"{name}{suffix}"])
            for suffix in (QUANTIZED, ".weight_scale", ".weight_zero_point", ".bias")
        )
        weight = (q.astype(np.float32) - np.float32(zero)) * np.float32(scale)
        convs[name] = FusedConv(weight.astype(np.float32), bias.astype(np.float32))
    if not convs:
        raise ValueError(
            f"{onnx_path} has no '*{QUANTIZED}' initialisers: it is not the int8 YOLOv8n export "
            "this rebuild reads; pass the yolov8n_int8_320.onnx from the shared real data"
        )
    return convs


def fused_model(convs: dict[str, FusedConv], names: Sequence[str]) -> DetectionModel:
    """The `yolov8n.yaml` model with the export's weights, in eval mode; each BatchNorm passes
    its conv's output through and adds the fused bias, until `restore_batchnorm`."""
    import torch

    ultralytics_offline()
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolov8n.yaml", nc=len(names), verbose=False)
    model.names = dict(enumerate(names))
    expected = {name for name, _ in _convs_to_load(model)}
    if expected != set(convs):
        missing, extra = sorted(expected - set(convs)), sorted(set(convs) - expected)
        raise ValueError(
            f"the export's convs do not match yolov8n with {len(names)} classes (missing "
            f"{missing[:3]}, extra {extra[:3]}): pass the int8 YOLOv8n export of the real data"
        )
    with torch.no_grad():
        for name, module in _convs_to_load(model):
            module.weight.copy_(torch.from_numpy(convs[name].weight))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(convs[name].bias))
        for name, conv in _batchnorm_convs(model):
            bias = convs[f"{name}.conv"].bias.astype(np.float64)
            zeros, ones = np.zeros_like(bias), np.ones_like(bias)
            _set_batchnorm(conv.bn, zeros, ones, np.sqrt(ones + conv.bn.eps), bias)
    return model.eval()


def restore_batchnorm(model: DetectionModel, tensors: Iterable[np.ndarray]) -> DetectionModel:
    """Give every BatchNorm the per-channel mean m and variance v of its conv's output over
    `tensors` ([1, 3, H, W] model inputs) without changing what it computes in eval mode.

    For a BatchNorm that passes its input through plus a bias b (as `fused_model` leaves
    them): running stats m and v, weight sqrt(v + eps), bias m + b. In general its eval scale s
    and shift t are kept: weight s * sqrt(v + eps), bias t + s * m. Train-mode batches then
    see statistics like the ones the BatchNorm expects, so training starts from the model.
    """
    moments = {name: _ChannelMoments() for name, _ in _batchnorm_convs(model)}
    hooks = [
        conv.conv.register_forward_hook(lambda _m, _i, out, n=name: moments[n].add(out))
        for name, conv in _batchnorm_convs(model)
    ]
    try:
        _run(model, tensors)
    finally:
        for hook in hooks:
            hook.remove()
    for name, conv in _batchnorm_convs(model):
        scale, shift = _eval_scale_shift(conv.bn)
        mean, var = moments[name].mean_var()
        _set_batchnorm(conv.bn, mean, var, scale * np.sqrt(var + conv.bn.eps), shift + scale * mean)
    logger.info("BatchNorm statistics restored in %d convs", len(moments))
    return model


def keep_classes(model: DetectionModel, names: Sequence[str]) -> DetectionModel:
    """Cut the class branch to `names` (in that order): each head's last conv keeps those rows.
    Scores are independent sigmoids, so the kept classes score exactly as before."""
    import torch
    from torch import nn

    index = [list(model.names.values()).index(n) for n in names]
    head = model.model[-1]
    for branch in head.cv3:
        old = branch[-1]
        new = nn.Conv2d(old.in_channels, len(names), 1, bias=True)
        with torch.no_grad():
            new.weight.copy_(old.weight[index])
            new.bias.copy_(old.bias[index])
        branch[-1] = new
    head.nc, head.no = len(names), len(names) + head.reg_max * 4
    model.nc, model.names = len(names), dict(enumerate(names))
    model.yaml["nc"] = len(names)
    return model


def _run(model: DetectionModel, tensors: Iterable[np.ndarray]) -> None:
    import torch

    model.eval()
    with torch.no_grad():
        for tensor in tensors:
            model(torch.from_numpy(tensor))


def _eval_scale_shift(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """What an eval-mode BatchNorm computes, as x * scale + shift per channel (float64)."""
    weight, bias = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    mean, var = bn.running_mean.double().numpy(), bn.running_var.double().numpy()
    scale = weight / np.sqrt(var + bn.eps)
    return scale, bias - mean * scale


def _set_batchnorm(
    bn: nn.BatchNorm2d, mean: np.ndarray, var: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> None:
    import torch

    with torch.no_grad():
        for target, values in (
            (bn.running_mean, mean),
            (bn.running_var, var),
            (bn.weight, weight),
            (bn.bias, bias),
        ):
            target.copy_(torch.from_numpy(np.asarray(values)))


def _batchnorm_convs(model: DetectionModel) -> list[tuple[str, nn.Module]]:
    """The model's Conv modules (conv + BatchNorm + SiLU), by name."""
    from ultralytics.nn.modules.conv import Conv

    return [(name, m) for name, m in model.named_modules() if isinstance(m, Conv)]


def _convs_to_load(model: DetectionModel) -> list[tuple[str, nn.Conv2d]]:
    """Every Conv2d the export has a weight for: all but the DFL's fixed arange."""
    from torch import nn

    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and name != DFL_CONV
    ]
