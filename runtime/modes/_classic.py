"""classic mode for any framework: only the chosen candidate runs, on the chosen inputs.

The `(None, classic)` backend: it serves a layer whose framework has no classic backend of its own
(plain Python values; `torch._classic` and `tensorflow._classic` serve theirs). Functions are called
directly; a class is constructed once per owner and layer and kept in the
owner's `nas_candidates` mapping (a plain attribute, which Keras tracks), or, without an owner, in the
trial's candidate registry (`nas.candidates()`). Needs no framework import.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._backend import CandidateTable, LayerBackend, LayerCall, LayerRequest

from nasctl.searchspace import candidate_key

if TYPE_CHECKING:
    from nasctl.runtime._host import TrialHost

__all__ = ["ClassicBackend", "candidate_key"]


def _function_call(label: str, chosen: tuple[str, ...]) -> LayerCall:
    if not chosen:
        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            callee, args, kwargs = candidates[label]
            return callee([fixed, []], *args, **kwargs)
    else:
        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            callee, args, kwargs = candidates[label]
            return callee([fixed, [optional[name] for name in chosen]], *args, **kwargs)
    return call


def _instance_call(instance: Any, chosen: tuple[str, ...]) -> LayerCall:
    if not chosen:
        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            return instance([fixed, []])
    else:
        def call(candidates: CandidateTable, fixed: list[Any], optional: Any) -> Any:
            return instance([fixed, [optional[name] for name in chosen]])
    return call


class ClassicBackend(LayerBackend):
    """Runs the architecture's candidate on `[fixed_inputs, chosen_inputs]`; nothing else is built."""

    mode = "classic"

    @property
    def trial(self) -> TrialHost:
        """The trial served: classic mode runs its choices, so it runs only inside one."""
        if self.context is None:
            raise TrialError(f"{type(self).__name__} runs a trial's choices: make it with for_trial(context)")
        return self.context

    def resolve(self, layer: LayerRequest) -> LayerCall:
        label, chosen = self.trial.layer_choice(layer)
        callee, args, kwargs = layer.candidates[label]
        if isinstance(callee, type):
            index = layer.labels.index(label)
            return _instance_call(self.instance(layer, index, callee, args, kwargs), chosen)
        return _function_call(label, chosen)

    def instance(self, layer: LayerRequest, index: int, callee: type, args: Any, kwargs: Any) -> Any:
        """The owner's instance of candidate `index`, constructed and registered on first use."""
        holder = self.holder(layer)
        name = candidate_key(layer.block_key, layer.layer_key, index)
        instance = holder[name] if name in holder else None
        if instance is None:
            try:
                instance = callee(*args, **kwargs)
            except TypeError as error:
                raise TrialError(f"layer {layer.where}: cannot construct candidate "
                                 f"{layer.labels[index]!r}: {error}") from error
            instance = self.place(layer, instance)
            holder[name] = instance
            self.registered(layer, index, instance)
        return instance

    def holder(self, layer: LayerRequest) -> MutableMapping[str, Any]:
        """Where the layer's candidate instances live: the owner's `nas_candidates`, or the registry."""
        owner = layer.owner
        if owner is None:
            return self.trial.candidate_registry(self.framework)
        holder = getattr(owner, "nas_candidates", None)
        if holder is None:
            try:
                owner.nas_candidates = {}
            except AttributeError:
                raise TrialError(f"layer {layer.where}: cannot keep candidates on owner "
                                 f"{type(owner).__name__} (attribute nas_candidates cannot be set)") from None
            holder = owner.nas_candidates  # a framework may have wrapped the dict to track it
        if not isinstance(holder, MutableMapping):
            raise TrialError(f"layer {layer.where}: owner {type(owner).__name__} has an attribute "
                             f"'nas_candidates' that is not a mapping; nasctl keeps candidates there")
        return holder

    def place(self, layer: LayerRequest, instance: Any) -> Any:
        """Hook: adapt a new instance to its layer (device, training flag); returns it."""
        return instance

    def registered(self, layer: LayerRequest, index: int, instance: Any) -> None:
        """Hook: a new instance was registered."""
