"""`nas.supernet`: sub-one-shot search over a torch supernet (see `nasctl.runtime.modes.torch._supernet`).

`warmup()` counts the `oneshot.warmup` budget, `save_supernet`/`load_supernet` keep the warmed-up
supernet in the trial's folder, `evolve` runs proxy-scored regularized evolution over its subnets and
`export_architectures` writes the top-k for a retrain. Imported on its own (`from nas import supernet`),
so `import nas` stays free of torch.
"""

from __future__ import annotations

import nasctl.runtime.trial  # noqa: F401  the trial runtime serves the current trial these functions use
from nasctl.runtime.modes._warmup import Warmup
from nasctl.runtime.modes.torch._supernet import (
    CHECKPOINT_NAME,
    active_parameter_count,
    evolve,
    export_architectures,
    finetune_scorer,
    load_supernet,
    oneshot_backend,
    proxy_scorer,
    save_supernet,
    warmup,
)

__all__ = [
    "CHECKPOINT_NAME",
    "Warmup",
    "active_parameter_count",
    "evolve",
    "export_architectures",
    "finetune_scorer",
    "load_supernet",
    "oneshot_backend",
    "proxy_scorer",
    "save_supernet",
    "warmup",
]
