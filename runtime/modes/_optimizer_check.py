"""The optimizer-before-forward mistake, caught in every torch mode.

Candidates exist after the first forward pass (DESIGN.md §4). An optimizer built before it holds
the model's own parameters but none of its candidates', which then never train. Each torch backend
tracks the candidates it creates; an optimizer's first `step()` after a new candidate appeared
checks that it holds them, and raises a TrialError that says what to do when it does not.
"""

from __future__ import annotations

import weakref
from typing import Any

from nasctl.runtime.errors import TrialError

__all__ = ["OptimizerCheck"]


class OptimizerCheck:
    """Candidate modules with parameters, and the optimizer step hook that checks them."""

    def __init__(self) -> None:
        # (owner, instance, layer name, label) for each candidate with parameters, as weak references.
        self._tracked: list[tuple[Any, Any, str, str]] = []
        self._generation = 0
        self._checked: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._hook: Any = None

    def track(self, owner: Any, instance: Any, where: str, label: str) -> None:
        """A candidate `instance` was just created on `owner` (an `nn.Module`) for layer `where`."""
        from torch import nn

        if not isinstance(instance, nn.Module) or not isinstance(owner, nn.Module):
            return
        if next(instance.parameters(), None) is None:
            return
        self._tracked.append((weakref.ref(owner), weakref.ref(instance), where, label))
        self._generation += 1
        if self._hook is None:
            from torch.optim.optimizer import register_optimizer_step_pre_hook

            self._hook = register_optimizer_step_pre_hook(self._check)

    def _check(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        # An optimizer that holds an owner's own parameters but not those of its candidates was built
        # before the forward pass that created them.
        if self._checked.get(optimizer) == self._generation:
            return
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for owner_ref, instance_ref, where, label in self._tracked:
            owner, instance = owner_ref(), instance_ref()
            if owner is None or instance is None or any(id(p) in held for p in instance.parameters()):
                continue
            candidates = owner._modules.get("nas_candidates")
            candidate_ids = {id(p) for p in candidates.parameters()} if candidates is not None else set()
            own = {id(p) for p in owner.parameters()} - candidate_ids
            if own & held:
                raise TrialError(
                    f"the optimizer was built before the first forward pass: it has parameters of "
                    f"{type(owner).__name__} but not those of candidate {label!r} of layer {where}, which "
                    "that forward created. Run one forward pass first (nas.materialize(model, batch)), "
                    "then build the optimizer.")
        self._checked[optimizer] = self._generation

    def close(self) -> None:
        """Remove the step hook (the trial context is closing)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
