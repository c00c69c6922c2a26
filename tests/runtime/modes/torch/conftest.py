"""A synthetic regression task whose target is one known candidate on one known optional input.

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps), and `s1` only adds noise, so each mode must find `conv3` and `s2`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

BLOCK = "task/Net.forward/h"
CHANNELS = 2
LENGTH = 12


class Conv(nn.Module):
    """`tanh(conv(sum of fixed and chosen inputs))`, a candidate in NNI's calling convention."""

    def __init__(self, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(CHANNELS, CHANNELS, kernel, dilation=dilation,
                              padding=dilation * (kernel - 1) // 2, bias=False)

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        fixed, chosen = inputs
        h = fixed[0]
        for x in chosen:
            h = h + x
        return torch.tanh(self.conv(h))


CANDIDATES = {
    "Conv(3)": (Conv, (), {"kernel": 3}),
    "Conv(3, dilation=2)": (Conv, (), {"kernel": 3, "dilation": 2}),
    "Conv(1)": (Conv, (), {"kernel": 1}),
}
TARGET = {BLOCK: {"h": {"chosen_layer": "Conv(3)", "chosen_inputs": ["s2"]}}}
SEARCH_SPACE = {BLOCK: {"_type": "mutable_layer", "_value": {"h": {
    "layer_choice": list(CANDIDATES), "optional_inputs": ["s1", "s2"], "optional_input_size": [0, 1]}}}}


class Net(nn.Module):
    """What the compiler makes of a one-layer model: the layer call with `self` as the owner."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend
        self.scale = nn.Parameter(torch.ones(()))  # an ordinary weight beside the candidates

    def forward(self, x: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        h = self.backend.layer(BLOCK, "h", CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1], self)
        return self.scale * h


class Task:
    """Seeded data: `batch()` draws a fresh training batch, `val` is a fixed validation batch."""

    def __init__(self, seed: int, batch: int = 32) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.batch_size = batch
        self.kernel = torch.tensor([[[0.8, -1.2, 0.6], [0.3, 0.9, -0.7]],
                                    [[-0.5, 0.4, 1.1], [1.0, -0.6, 0.2]]])
        self.val = self.batch(256)

    def target(self, x: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        return torch.tanh(nn.functional.conv1d(x + s2, self.kernel, padding=1))

    def batch(self, size: int | None = None) -> tuple[torch.Tensor, ...]:
        n = size or self.batch_size
        x, s1, s2 = (torch.randn(n, CHANNELS, LENGTH, generator=self.generator) for _ in range(3))
        return x, s1, s2, self.target(x, s2)

    def loss(self, model: nn.Module, data: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, s1, s2, y = data
        return nn.functional.mse_loss(model(x, s1, s2), y)

    def evaluator(self, model: nn.Module) -> Callable[[], float]:
        """`evaluate()` for derivation: minus the validation loss of the fixed subnet."""
        def evaluate() -> float:
            with torch.no_grad():
                return -float(self.loss(model, self.val))
        return evaluate


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is fastest, and kinder to a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def kit() -> SimpleNamespace:
    """The task's pieces, for tests (pytest's importlib mode does not let them import this file)."""
    return SimpleNamespace(Task=Task, Net=Net, Conv=Conv, BLOCK=BLOCK, CANDIDATES=CANDIDATES,
                           TARGET=TARGET, SEARCH_SPACE=SEARCH_SPACE)
