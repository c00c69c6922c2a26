"""`LayerSpec`: one layer (or relaxed variable) as the one-shot modes see it, with its subgraphs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nasctl.searchspace._equality import find_label
from nasctl.searchspace._errors import ArchitectureError
from nasctl.searchspace._layers import input_size_bounds, sample_inputs

if TYPE_CHECKING:
    import random

__all__ = ["Architecture", "LayerSpec"]

Architecture = dict[str, Any]


@dataclass(frozen=True)
class LayerSpec:
    """What the search space says about one layer: its keys, candidate labels and optional inputs."""

    block_key: str
    layer_key: str
    labels: tuple[Any, ...]
    input_labels: tuple[str, ...]
    input_low: int
    input_high: int
    #: A relaxed variable (`nas.choice` feeding a `nas.nn` module): the architecture holds its value
    #: under `block_key` (`layer_key` is ""), not a `{layer: {chosen_layer, chosen_inputs}}` block.
    variable: bool = False

    @classmethod
    def of_value(cls, key: str, options: Sequence[Any]) -> LayerSpec:
        """The spec of a relaxed `choice` variable `key` with `options` (its labels)."""
        if not options:
            raise ArchitectureError("a choice needs at least one option", key)
        return cls(key, "", tuple(options), (), 0, 0, True)

    @classmethod
    def of_call(cls, block_key: str, layer_key: str, labels: Sequence[str], input_labels: Sequence[str],
                optional_input_size: int | Sequence[int]) -> LayerSpec:
        """The spec of a layer call, with its candidates and `optional_input_size` checked."""
        where = f"{block_key}/{layer_key}"
        if not labels:
            raise ArchitectureError("a mutable layer needs at least one candidate in layer_choice", where)
        low, high = input_size_bounds(optional_input_size, len(input_labels), where)
        return cls(block_key, layer_key, tuple(labels), tuple(input_labels), low, high)

    @property
    def where(self) -> str:
        """The layer's key as error messages name it: `<block>/<layer>` (a variable: its key)."""
        return self.block_key if self.variable else f"{self.block_key}/{self.layer_key}"

    @property
    def subsets(self) -> tuple[tuple[int, ...], ...]:
        """Every allowed set of optional inputs (indices in code order), smallest first."""
        n = len(self.input_labels)
        return tuple(
            subset
            for size in range(self.input_low, self.input_high + 1)
            for subset in itertools.combinations(range(n), size)
        )

    @property
    def subgraphs(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """Every `(candidate index, input subset)` of the layer; a subgraph's number is its position."""
        return tuple((c, s) for c in range(len(self.labels)) for s in self.subsets)

    def subgraph_index(self, candidate: int, inputs: Sequence[int]) -> int:
        """The number of the subgraph that runs `candidate` on `inputs` (in any order)."""
        return self.subgraphs.index((candidate, tuple(sorted(inputs))))

    def sample(self, rng: random.Random) -> tuple[int, list[int]]:
        """A uniformly drawn `(candidate index, input indices)`: the inputs first, then the candidate."""
        inputs = sample_inputs(rng, len(self.input_labels), self.input_low, self.input_high)
        return rng.randrange(len(self.labels)), inputs

    def decode(self, architecture: Mapping[str, Any]) -> tuple[int, tuple[int, ...]]:
        """`(candidate index, input indices)` of this layer in `architecture`, checked against the layer.

        Input indices keep the architecture's order (classic mode passes them in that order).
        """
        if self.variable:
            value = architecture.get(self.block_key)
            for index, label in enumerate(self.labels):
                if value == label and not isinstance(value, bool):
                    return index, ()
            raise ArchitectureError(f"{value!r} is not one of the options {list(self.labels)}", self.block_key)
        block = architecture.get(self.block_key)
        if not isinstance(block, Mapping) or not isinstance(block.get(self.layer_key), Mapping):
            raise ArchitectureError(f"no choice for layer '{self.layer_key}'", self.block_key)
        choice = block[self.layer_key]
        label = choice.get("chosen_layer")
        found = find_label(self.labels, label) if isinstance(label, str) else None
        label = self.labels[found] if found is not None else label
        if label not in self.labels:
            raise ArchitectureError(
                f"layer '{self.layer_key}': chosen_layer {label!r} is not one of {list(self.labels)}",
                self.block_key,
            )
        inputs = choice.get("chosen_inputs", [])
        if isinstance(inputs, list):
            inputs = [
                self.input_labels[found] if (found := find_label(self.input_labels, name)) is not None else name
                for name in inputs
            ]
        if (
            not isinstance(inputs, list)
            or any(name not in self.input_labels for name in inputs)
            or not self.input_low <= len(inputs) <= self.input_high
            or len(set(inputs)) != len(inputs)
        ):
            raise ArchitectureError(
                f"layer '{self.layer_key}': chosen_inputs {inputs!r} must be {self.input_low} to "
                f"{self.input_high} distinct names of {list(self.input_labels)}",
                self.block_key,
            )
        return self.labels.index(label), tuple(self.input_labels.index(name) for name in inputs)

    def choice(self, candidate: int, inputs: Sequence[int]) -> Any:
        """This layer's entry of an architecture: `{"chosen_layer": ..., "chosen_inputs": [...]}` (a
        variable: its chosen value)."""
        if self.variable:
            return self.labels[candidate]
        return {"chosen_layer": self.labels[candidate], "chosen_inputs": [self.input_labels[i] for i in inputs]}

    def put(self, architecture: Architecture, candidate: int, inputs: Sequence[int]) -> None:
        """Write this layer's (or variable's) choice into `architecture`."""
        if self.variable:
            architecture[self.block_key] = self.choice(candidate, inputs)
        else:
            architecture.setdefault(self.block_key, {})[self.layer_key] = self.choice(candidate, inputs)
