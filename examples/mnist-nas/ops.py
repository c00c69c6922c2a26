"""The candidate operations of mnist.py: PyTorch modules called NNI's way, `op([fixed, chosen])`.

Every op first adds its inputs (the fixed input and the chosen skip connections, all of the same
shape), then applies itself; shapes are kept, so any op can follow any other. Batch norm uses the
statistics of each batch, also when evaluating: in the one-shot modes the subgraph below a candidate
changes from step to step, so running averages would mix the statistics of different subgraphs.
"""

from __future__ import annotations

import torch
from torch import nn


def _merge(inputs: list[list[torch.Tensor]]) -> torch.Tensor:
    fixed, chosen = inputs
    merged = fixed[0]
    for skip in [*fixed[1:], *chosen]:
        merged = merged + skip
    return merged


class Conv(nn.Module):
    """conv(size) -> batch norm -> relu, `channels` in and out."""

    def __init__(self, size: int, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, size, padding=dilation * (size // 2), dilation=dilation, bias=False),
            nn.BatchNorm2d(channels, track_running_stats=False),
            nn.ReLU(),
        )

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return self.body(_merge(inputs))


class SepConv(nn.Module):
    """Depthwise separable conv(size) -> batch norm -> relu."""

    def __init__(self, size: int, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, size, padding=size // 2, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels, track_running_stats=False),
            nn.ReLU(),
        )

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return self.body(_merge(inputs))


class Pool(nn.Module):
    """Max or average pooling with stride 1 (the size is kept)."""

    def __init__(self, size: int, kind: str = "max") -> None:
        super().__init__()
        pool = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
        self.pool = pool(size, stride=1, padding=size // 2)

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return self.pool(_merge(inputs))


def identity(inputs: list[list[torch.Tensor]]) -> torch.Tensor:
    """The sum of the inputs, unchanged (a plain function candidate)."""
    return _merge(inputs)
