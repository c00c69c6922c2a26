"""alpha(lambda) in PyTorch: the darts backend's hypernetwork of the complexity parameter (DARTS-CC).

The formulas are in `nasctl.runtime.modes._hypernet` (shared with `nasctl experiment export`); here
each layer's function is one flat tensor `theta`, a leaf the architecture optimizer steps, so the
backend keeps it where it keeps a plain `alpha` (same device moves, same optimizer, same reports).
"""

from __future__ import annotations

import torch
from nasctl.runtime.modes._hypernet import HypernetOptions, knot_position


def init_theta(options: HypernetOptions, n: int, generator: torch.Generator) -> torch.Tensor:
    """Parameters of one function with `n` outputs; alpha(t) starts near 0 and equal for every t."""
    if options.kind == "knots":
        row = 1e-3 * torch.randn(n, generator=generator)
        return row.repeat(options.size)  # the same logits at every knot: A[k] = a0
    h = options.size
    w1 = torch.randn(h, generator=generator)  # features of t that differ across the range
    b1 = torch.randn(h, generator=generator)
    w2 = 1e-3 * torch.randn(n * h, generator=generator)
    return torch.cat([w1, b1, w2, torch.zeros(n)])


def evaluate(options: HypernetOptions, theta: torch.Tensor, n: int, t: float) -> torch.Tensor:
    """alpha(t), differentiable in `theta` (see `nasctl.runtime.modes._hypernet`)."""
    if options.kind == "knots":
        table = theta.view(options.size, n)
        i, w = knot_position(t, options.size)
        return (1.0 - w) * table[i] + w * table[i + 1]  # (1 - w) A[i] + w A[i+1]
    h = options.size
    w1, b1 = theta[:h], theta[h:2 * h]
    w2, b2 = theta[2 * h:2 * h + n * h].view(n, h), theta[2 * h + n * h:]
    return w2 @ torch.tanh(w1 * t + b1) + b2  # W2 tanh(w1 t + b1) + b2
