"""Framework-free bookkeeping of one mutable layer: its spec, its subgraphs, decoding a choice.

Nothing here imports TensorFlow. The same definitions exist in `runtime.modes.torch` (`LayerSpec`,
`input_size_bounds`, `decode_choice`, `top_inputs`) but live in modules that import torch, which a
TensorFlow trial must not load; they mean exactly the same here.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.errors import ArchitectureError

Architecture = dict[str, Any]

_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def candidate_attribute(block_key: str, layer_key: str, index: int) -> str:
    """The `nas_candidates` key of candidate `index` of a layer (docs/internals.md)."""
    return _UNSAFE.sub("_", f"{block_key}__{layer_key}__{index}")


def scope_name(block_key: str, layer_key: str) -> str:
    """A TensorFlow name/variable scope for a layer: the sanitised `<block>__<layer>`."""
    return _UNSAFE.sub("_", f"{block_key}__{layer_key}")


def input_size_bounds(size: int | Sequence[int], n_inputs: int, where: str) -> tuple[int, int]:
    """`optional_input_size` (an int or `[low, high]`) as `(low, high)`, checked against `n_inputs`."""
    if isinstance(size, bool):
        raise ArchitectureError(f"optional_input_size must be an int or [low, high], got {size!r}", where)
    if isinstance(size, int):
        low = high = size
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(v, int) for v in size):
        low, high = int(size[0]), int(size[1])
    else:
        raise ArchitectureError(f"optional_input_size must be an int or [low, high], got {size!r}", where)
    if not 0 <= low <= high <= n_inputs:
        raise ArchitectureError(f"optional_input_size {size!r} does not fit {n_inputs} optional input(s)", where)
    return low, high


def drop_rate(r: float, k: int) -> float:
    """The one-shot drop rate of each of `k` paths, `r**(1/k)`, so that all `k` drop with probability `r`."""
    return r ** (1.0 / k)


@dataclass(frozen=True)
class LayerSpec:
    """What the search space says about one layer: its keys, candidate labels and optional inputs."""

    block_key: str
    layer_key: str
    labels: tuple[str, ...]
    input_labels: tuple[str, ...]
    input_low: int
    input_high: int

    @property
    def where(self) -> str:
        """The layer's key as error messages name it: `<block>/<layer>`."""
        return f"{self.block_key}/{self.layer_key}"

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

    def decode(self, architecture: Mapping[str, Any]) -> tuple[int, tuple[int, ...]]:
        """`(candidate index, input indices)` of this layer in `architecture`, checked against the layer.

        Input indices keep the architecture's order (classic mode passes them in that order).
        """
        block = architecture.get(self.block_key)
        if not isinstance(block, Mapping) or not isinstance(block.get(self.layer_key), Mapping):
            raise ArchitectureError(f"no choice for layer '{self.layer_key}'", self.block_key)
        choice = block[self.layer_key]
        label = choice.get("chosen_layer")
        if label not in self.labels:
            raise ArchitectureError(
                f"layer '{self.layer_key}': chosen_layer {label!r} is not one of {list(self.labels)}",
                self.block_key,
            )
        inputs = choice.get("chosen_inputs", [])
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

    def choice(self, candidate: int, inputs: Sequence[int]) -> dict[str, Any]:
        """This layer's entry of an architecture: `{"chosen_layer": ..., "chosen_inputs": [...]}`."""
        return {"chosen_layer": self.labels[candidate], "chosen_inputs": [self.input_labels[i] for i in inputs]}


def top_inputs(spec: LayerSpec, scores: Sequence[float], threshold: float | None) -> list[int]:
    """The optional inputs to keep: by descending score, those above `threshold` clamped to the range.

    With `threshold=None` the count is the range's upper bound. Returns indices in code order.
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    count = spec.input_high if threshold is None else sum(1 for s in scores if s > threshold)
    count = min(max(count, spec.input_low), spec.input_high)
    return sorted(order[:count])


def sample_architecture(specs: Sequence[LayerSpec], rng: random.Random) -> Architecture:
    """A uniformly sampled architecture: per layer a candidate, an input count in range, those inputs."""
    arch: Architecture = {}
    for spec in specs:
        count = rng.randint(spec.input_low, spec.input_high)
        picked = sorted(rng.sample(range(len(spec.input_labels)), count))
        arch.setdefault(spec.block_key, {})[spec.layer_key] = spec.choice(rng.randrange(len(spec.labels)), picked)
    return arch


def mutate_architecture(specs: Sequence[LayerSpec], parent: Architecture, rng: random.Random) -> Architecture:
    """`parent` with one layer's candidate or input set resampled (regularized evolution's mutation)."""
    child = {block: {layer: dict(choice) for layer, choice in layers.items()} for block, layers in parent.items()}
    spec = rng.choice(list(specs))
    fresh = sample_architecture([spec], rng)[spec.block_key][spec.layer_key]
    entry = child.setdefault(spec.block_key, {}).setdefault(spec.layer_key, dict(fresh))
    field = "chosen_layer" if not spec.input_labels or rng.random() < 0.5 else "chosen_inputs"
    entry[field] = fresh[field]
    return child
