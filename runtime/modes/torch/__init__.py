"""The PyTorch backends of the four modes, one file each: `_classic.py`, `_enas.py`, `_oneshot.py` and
`_darts.py` (the one-shot modes over the base in `_backend.py`).

>>> import torch
>>> from nasctl.runtime.modes.torch import DartsBackend
>>> backend = DartsBackend({"sampler": "gumbel"}, seed=0)
>>> ops = {"relu": (lambda xs: torch.relu(xs[0][0]), (), {}), "tanh": (lambda xs: torch.tanh(xs[0][0]), (), {})}
>>> y = backend.layer("m/h", "h", ops, [torch.ones(2)], {}, 0)
>>> sorted(backend.derived_architecture()["m/h"]["h"])
['chosen_inputs', 'chosen_layer']
"""

from __future__ import annotations

import importlib
from typing import Any

from nasctl.runtime.modes._derive import arch_parameters, derive_architecture, sample_architectures

# Everything else imports torch, so it is loaded on first use (PEP 562): `nas` can expose
# `arch_parameters` and `derive_architecture` without importing a framework.
_LAZY = {
    "TorchOneShotBackend": "_backend",
    "TorchClassicBackend": "_classic",
    "materialize": "_classic",
    "DartsBackend": "_darts",
    "EnasBackend": "_enas",
    "LayerCandidates": "_layer",
    "LayerSpec": "nasctl.runtime.modes._spec",
    "candidate_attribute": "_layer",
    "OneShotBackend": "_oneshot",
    "supernet": "nasctl.runtime.modes.torch._supernet",
    "DartsOptions": "nasctl.runtime.modes._options",
    "EnasOptions": "nasctl.runtime.modes._options",
    "OneShotOptions": "nasctl.runtime.modes._options",
}

__all__ = [
    "DartsBackend",
    "DartsOptions",
    "EnasBackend",
    "EnasOptions",
    "LayerCandidates",
    "LayerSpec",
    "OneShotBackend",
    "OneShotOptions",
    "TorchClassicBackend",
    "TorchOneShotBackend",
    "arch_parameters",
    "candidate_attribute",
    "derive_architecture",
    "materialize",
    "sample_architectures",
    "supernet",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "supernet":  # the module itself: `from nasctl.runtime.modes.torch import supernet`
        value = importlib.import_module(module)
        globals()[name] = value
        return value
    value = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
