"""Zero-cost proxies: scores of a (sub)network computed on a few batches, without training it.

They rank architectures before (or instead of) training them: SiGeo's terms (training loss,
Fisher-Rao norm, mean absolute gradient, ZiCo) and the common baselines (grad_norm, SNIP, SynFlow,
NASWOT, parameter count). Each takes a `torch.nn.Module`, an iterable of `(inputs, targets)` batches
and a `loss_fn(outputs, targets)` that returns one loss per example. On a supernet, they score the
subnet that the mode currently runs.

>>> import torch
>>> from nasctl.runtime import proxies
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
>>> batches = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(2)]
>>> loss = lambda out, y: torch.nn.functional.cross_entropy(out, y, reduction="none")
>>> scores = proxies.compute(model, batches, loss, names=("train_loss", "zico", "params"))
>>> sorted(scores)
['params', 'train_loss', 'zico']
>>> scores["params"]
67.0
"""

from __future__ import annotations

from nasctl.runtime.proxies._scores import (
    PROXIES,
    ProxyError,
    compute,
    fisher_rao,
    grad_norm,
    mean_abs_grad,
    naswot,
    params,
    sigeo_score,
    snip,
    synflow,
    train_loss,
    zico,
)

__all__ = [
    "PROXIES",
    "ProxyError",
    "compute",
    "fisher_rao",
    "grad_norm",
    "mean_abs_grad",
    "naswot",
    "params",
    "sigeo_score",
    "snip",
    "synflow",
    "train_loss",
    "zico",
]
