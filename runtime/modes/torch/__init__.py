"""The PyTorch backends of the one-shot modes: enas, oneshot and darts.

>>> import torch
>>> from runtime.modes.torch import DartsBackend
>>> backend = DartsBackend({"sampler": "gumbel"}, seed=0)
>>> ops = {"relu": (lambda xs: torch.relu(xs[0][0]), (), {}), "tanh": (lambda xs: torch.tanh(xs[0][0]), (), {})}
>>> y = backend.layer("m/h", "h", ops, [torch.ones(2)], {}, 0)
>>> sorted(backend.derived_architecture()["m/h"]["h"])
['chosen_inputs', 'chosen_layer']
"""

from __future__ import annotations

from runtime.modes.torch._backend import TorchOneShotBackend
from runtime.modes.torch._darts import DartsBackend
from runtime.modes.torch._enas import EnasBackend, attach_tuner
from runtime.modes.torch._layer import LayerCandidates, LayerSpec, candidate_attribute
from runtime.modes.torch._oneshot import OneShotBackend
from runtime.modes.torch._options import DartsOptions, EnasOptions, OneShotOptions

__all__ = [
    "DartsBackend",
    "DartsOptions",
    "EnasBackend",
    "EnasOptions",
    "LayerCandidates",
    "LayerSpec",
    "OneShotBackend",
    "OneShotOptions",
    "TorchOneShotBackend",
    "attach_tuner",
    "candidate_attribute",
]
