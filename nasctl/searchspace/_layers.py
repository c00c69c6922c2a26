"""A `mutable_layer`'s rules: its input-size bounds, its spec, checking and sampling one layer's choice.

A layer of a block has candidates (`layer_choice`, labels), `optional_inputs` and an
`optional_input_size` (an int, or `[low, high]`); its entry of an architecture is
`{"chosen_layer": label, "chosen_inputs": [input labels]}` (DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasctl.searchspace._equality import find_label
from nasctl.searchspace._errors import ArchitectureError

if TYPE_CHECKING:
    import random

__all__ = ["check_layer_choice", "input_size_bounds", "sample_inputs", "sample_layer"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def input_size_bounds(size: Any, n_inputs: int, key: str | None = None, layer: str | None = None) -> tuple[int, int]:
    """`optional_input_size` (an int or `[low, high]`) as `(low, high)`, checked against `n_inputs`.

    An `ArchitectureError` names `key` (and `layer`, the layer inside the block) when it is malformed.

    >>> input_size_bounds([0, 1], 2), input_size_bounds(2, 2)
    ((0, 1), (2, 2))
    """
    where = f"layer '{layer}': " if layer else ""
    if _is_int(size):
        low = high = size
    elif isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 2 and all(map(_is_int, size)):
        low, high = size
    else:
        raise ArchitectureError(f"{where}optional_input_size must be an int or [low, high], got {size!r}", key)
    if not 0 <= low <= high <= n_inputs:
        raise ArchitectureError(f"{where}optional_input_size {size!r} does not fit {n_inputs} optional input(s)",
                                key)
    return low, high


def sample_inputs(rng: random.Random, n_inputs: int, low: int, high: int) -> list[int]:
    """A uniformly drawn count in `[low, high]`, then that many distinct inputs (indices, in order)."""
    count = rng.randint(low, high)
    return sorted(rng.sample(range(n_inputs), count))


def sample_layer(rng: random.Random, labels: Sequence[Any], input_labels: Sequence[str], size: Any,
                 key: str = "", layer_key: str = "") -> dict[str, Any]:
    """A uniformly chosen candidate and input set for one layer (inputs in the search space's order)."""
    low, high = input_size_bounds(size, len(input_labels), key, layer_key)
    chosen_layer = labels[rng.randrange(len(labels))]
    picked = sample_inputs(rng, len(input_labels), low, high)
    return {"chosen_layer": chosen_layer, "chosen_inputs": [input_labels[i] for i in picked]}


def check_layer_choice(key: str, layer_key: str, labels: Sequence[Any], input_labels: Sequence[str],
                       size: Any, entry: Any) -> tuple[Any, tuple[str, ...]]:
    """`entry` (`{"chosen_layer", "chosen_inputs"}`) checked against one layer; `(label, inputs)`.

    Labels come back as the search space spells them (a label written with other spacing is found).
    """
    where = f"layer '{layer_key}'"
    if not isinstance(entry, Mapping):
        raise ArchitectureError(f"{where}: expected {{\"chosen_layer\": ..., \"chosen_inputs\": [...]}}, "
                                f"got {entry!r}", key)
    unknown = sorted(set(entry) - {"chosen_layer", "chosen_inputs"})
    if unknown:
        raise ArchitectureError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}", key)
    label = entry.get("chosen_layer")
    found = find_label(labels, label) if isinstance(label, str) else None
    if found is None:
        raise ArchitectureError(f"{where}: chosen_layer {label!r} is not one of its candidates "
                                f"{list(labels)}", key)
    label = labels[found]
    chosen = entry.get("chosen_inputs", [])
    if not isinstance(chosen, Sequence) or isinstance(chosen, str):
        raise ArchitectureError(f"{where}: chosen_inputs must be a list of input names, got {chosen!r}", key)
    canonical = []
    for name in chosen:
        found = find_label(input_labels, name) if isinstance(name, str) else None
        if found is None:
            raise ArchitectureError(f"{where}: chosen input {name!r} is not one of its optional_inputs "
                                    f"{list(input_labels)}", key)
        canonical.append(input_labels[found])
    if len(set(canonical)) != len(canonical):
        raise ArchitectureError(f"{where}: chosen_inputs {canonical} name an input twice", key)
    low, high = input_size_bounds(size, len(input_labels), key, layer_key)
    if not low <= len(canonical) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise ArchitectureError(f"{where}: {len(canonical)} chosen input(s) {canonical}, but "
                                f"optional_input_size allows {wanted}", key)
    return label, tuple(canonical)
