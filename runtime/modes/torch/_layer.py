"""One mutable layer as the one-shot backends see it: its static spec and its built candidates.

A compiled layer call (docs/internals.md, "A layer") hands the backend the candidates as
`{label: (callee, args, kwargs)}`. A class callee is constructed once per owner and registered on the
owner's `nas_candidates` `ModuleDict` under `<block>__<layer>__<index>` (sanitised), so that
`model.parameters()`, `state_dict()` and `.to(device)` see it; a function callee is called directly.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from nasctl.runtime.modes._classic import candidate_key
from nasctl.runtime.modes._spec import LayerSpec
from torch import nn

CandidateTable = Mapping[str, tuple[Any, Sequence[Any], Mapping[str, Any]]]

candidate_attribute = candidate_key  # the `nas_candidates` key, shared with classic mode


def _count_parameters(modules: Sequence[Any]) -> int:
    """The parameters of `modules` (each counted once, shared ones too)."""
    seen: dict[int, int] = {}
    for module in modules:
        if isinstance(module, nn.Module):
            for p in module.parameters():
                if not isinstance(p, nn.parameter.UninitializedParameter):
                    seen[id(p)] = p.numel()
    return sum(seen.values())


def _bound_modules(callee: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[nn.Module]:
    """The modules a function candidate uses through its arguments (or is, or is a method of)."""
    found = [v for v in (*args, *kwargs.values()) if isinstance(v, nn.Module)]
    if isinstance(callee, nn.Module):
        found.append(callee)
    owner = getattr(callee, "__self__", None)
    if isinstance(owner, nn.Module):
        found.append(owner)
    return found


class LayerCandidates:
    """The candidates of one layer on one owner, built once; `call(i, fixed, chosen)` runs candidate `i`."""

    def __init__(
        self,
        spec: LayerSpec,
        table: CandidateTable,
        owner: Any,
        registry: nn.ModuleDict,
    ) -> None:
        self.spec = spec
        self._owner = weakref.ref(owner) if isinstance(owner, nn.Module) else None
        self._calls: list[Callable[[list[Any]], Any]] = []
        self.modules: list[nn.Module | None] = []
        self.bound: list[list[nn.Module]] = []  # per candidate: the modules its parameters live in
        holder = _candidate_dict(owner, registry)
        for index, (callee, args, kwargs) in enumerate(table.values()):
            if isinstance(callee, type):
                name = candidate_key(spec.block_key, spec.layer_key, index)
                instance = holder[name] if name in holder else None
                if instance is None:
                    instance = callee(*args, **dict(kwargs))
                    if isinstance(instance, nn.Module):
                        holder[name] = instance
                self.modules.append(instance if isinstance(instance, nn.Module) else None)
                self.bound.append([instance] if isinstance(instance, nn.Module) else [])
                self._calls.append(instance)
            else:
                self.modules.append(None)
                self.bound.append(_bound_modules(callee, args, kwargs))
                self._calls.append(_bind(callee, tuple(args), dict(kwargs)))
        self._param_counts: list[int] | None = None
        self._lazy = [i for i, m in enumerate(self.modules) if m is not None and _has_lazy(m)]

    def materialize(self, fixed: list[Any], chosen: list[Any]) -> None:
        """Run each candidate that still has lazy (uninitialized) parameters once, without gradients,
        so that every candidate's parameters exist before the user's optimizer is built."""
        lazy, self._lazy = self._lazy, []
        if lazy:
            with torch.no_grad():
                for index in lazy:
                    self.call(index, fixed, chosen)

    def training(self) -> bool:
        """Whether this call is a training step: the owner's `.training`, else whether grad is on."""
        owner = self._owner() if self._owner is not None else None
        return owner.training if owner is not None else torch.is_grad_enabled()

    def call(self, index: int, fixed: list[Any], chosen: list[Any]) -> Any:
        """Run candidate `index` on `[fixed, chosen]` (NNI's calling convention)."""
        return self._calls[index]([fixed, chosen])

    def parameter_counts(self) -> list[int]:
        """Parameters of each candidate (a function: those of the modules among its arguments), counted
        once all have run."""
        if self._param_counts is None:
            self._param_counts = [_count_parameters(modules) for modules in self.bound]
        return self._param_counts


def _has_lazy(module: nn.Module) -> bool:
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters())


def _bind(callee: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[list[Any]], Any]:
    if not args and not kwargs:
        return callee
    return lambda inputs: callee(inputs, *args, **kwargs)


def _candidate_dict(owner: Any, registry: nn.ModuleDict) -> nn.ModuleDict:
    if not isinstance(owner, nn.Module):
        return registry
    holder = getattr(owner, "nas_candidates", None)
    if holder is None:
        holder = nn.ModuleDict()
        owner.add_module("nas_candidates", holder)
    return holder


def first_tensor(values: Sequence[Any]) -> torch.Tensor | None:
    """The first tensor among a layer's inputs (its device and dtype are the layer's)."""
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
    return None
