"""classic mode for PyTorch: candidate modules live in the owner's `nas_candidates` `nn.ModuleDict`.

So `parameters()`, `state_dict()` and `.to(device)` see them. A module is created on the layer's
first forward, on the device of its inputs and with the owner's training flag. An optimizer built
before that forward would miss its parameters: its first `step()` raises a TrialError that says so.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._backend import LayerRequest
from nasctl.runtime.modes._classic import ClassicBackend
from nasctl.runtime.modes._optimizer_check import OptimizerCheck
from nasctl.runtime.modes.torch._layer import first_tensor
from torch import nn

__all__ = ["TorchClassicBackend", "materialize"]


class TorchClassicBackend(ClassicBackend):
    """Classic mode with `nn.Module` candidates registered on the enclosing `nn.Module`."""

    framework = "torch"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self._optimizer_check = OptimizerCheck()
        self._plain: dict[tuple[int, str, str, int], Any] = {}

    def holder(self, layer: LayerRequest) -> MutableMapping[str, Any]:
        owner = layer.owner
        if not isinstance(owner, nn.Module):
            return self.trial.candidate_registry("torch", nn.ModuleDict)
        holder = owner._modules.get("nas_candidates")
        if holder is None:
            if hasattr(owner, "nas_candidates"):
                raise TrialError(f"layer {layer.where}: {type(owner).__name__}.nas_candidates is taken; "
                                 "nasctl registers candidate modules under that name")
            holder = nn.ModuleDict()
            owner.add_module("nas_candidates", holder)
        elif not isinstance(holder, nn.ModuleDict):
            raise TrialError(f"layer {layer.where}: {type(owner).__name__}.nas_candidates is a "
                             f"{type(holder).__name__}, not the nn.ModuleDict nasctl keeps candidates in")
        return holder

    def place(self, layer: LayerRequest, instance: Any) -> Any:
        if not isinstance(instance, nn.Module):
            return instance
        tensor = first_tensor([*layer.fixed_inputs, *layer.optional_inputs.values()])
        if tensor is not None and tensor.device.type != "cpu":
            instance.to(tensor.device)
        owner = layer.owner
        if isinstance(owner, nn.Module):
            instance.train(owner.training)
            reference = next((p for p in owner.parameters() if p.is_floating_point()), None)
            if reference is not None and reference.dtype != torch.get_default_dtype():
                instance.to(reference.dtype)
        return instance

    def instance(self, layer: LayerRequest, index: int, callee: type, args: Any, kwargs: Any) -> Any:
        if issubclass(callee, nn.Module):
            return super().instance(layer, index, callee, args, kwargs)
        # A class that is not a module cannot go into a ModuleDict: one instance per owner and layer here.
        key = (id(layer.owner), layer.block_key, layer.layer_key, index)
        if key not in self._plain:
            self._plain[key] = callee(*args, **kwargs)
        return self._plain[key]

    def registered(self, layer: LayerRequest, index: int, instance: Any) -> None:
        self._optimizer_check.track(layer.owner, instance, layer.where, layer.labels[index])

    def close(self) -> None:
        self._optimizer_check.close()


def materialize(model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """Run one forward pass of `model` without gradients so that its candidates exist; returns its output.

    Training flags and running statistics are left as they were (it runs in eval mode). Call it
    before building the optimizer or loading a state dict:

    >>> nas.materialize(model, x[:2])  # doctest: +SKIP
    >>> optimizer = torch.optim.Adam(model.parameters())  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TrialError(f"materialize() needs a torch.nn.Module, got {type(model).__name__}")
    flags = {module: module.training for module in model.modules()}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(*args, **kwargs)
    finally:
        for module in model.modules():  # candidates created by this pass take the model's flag
            module.training = flags.get(module, was_training)
