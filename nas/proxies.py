"""`nas.proxies`: zero-cost proxies of a (sub)network on a few batches (see `nasctl.runtime.proxies`).

Imported on its own (`from nas import proxies`), so `import nas` stays free of torch.
"""

from __future__ import annotations

from nasctl.runtime.proxies import (
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
