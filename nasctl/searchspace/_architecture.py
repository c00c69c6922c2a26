"""Whole architectures against a search space (NNI's JSON format): sampling one with a seed, validating one.

`sample_architecture(space, 3)[k]` is what a trial that samples `k` on demand with seed 3 gets: every
key draws from its own generator (`key_random`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nasctl.searchspace._errors import ArchitectureError
from nasctl.searchspace._layers import check_layer_choice, sample_layer
from nasctl.searchspace._types import MUTABLE_LAYER
from nasctl.searchspace._values import check_variable, key_random, sample_value

__all__ = ["sample_architecture", "validate_architecture"]


def sample_architecture(search_space: Mapping[str, Any], seed: int = 0) -> dict[str, Any]:
    """A random architecture of `search_space`: uniform choices, NNI's distributions.

    >>> sample_architecture({"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]}}, seed=1)
    {'m/lr/choice': 0.01}
    """
    architecture: dict[str, Any] = {}
    for key, entry in search_space.items():
        type_, spec = entry["_type"], entry["_value"]
        if type_ == MUTABLE_LAYER:
            architecture[key] = {
                layer_key: sample_layer(key_random(seed, key, layer_key), layer["layer_choice"],
                                        layer.get("optional_inputs", []), layer.get("optional_input_size", 0),
                                        key, layer_key)
                for layer_key, layer in spec.items()
            }
        else:
            architecture[key] = sample_value(key_random(seed, key), type_, spec)
    return architecture


def validate_architecture(architecture: Any, search_space: Mapping[str, Any], *, partial: bool = False,
                          source: str | None = None) -> None:
    """Raise `ArchitectureError` naming the key where `architecture` does not fit `search_space`.

    Checks unknown keys, candidates and inputs that do not exist, the number of chosen inputs, and
    variable values against their type and range. With `partial`, keys of the space may be missing
    (a trial that samples or is told the rest). `source` (a file name) prefixes the message.
    """
    try:
        _validate(architecture, search_space, partial)
    except ArchitectureError as error:
        if source is None:
            raise
        located = ArchitectureError(f"{source}: {error}")
        located.key = error.key
        raise located from None


def _validate(architecture: Any, search_space: Mapping[str, Any], partial: bool) -> None:
    if not isinstance(architecture, Mapping):
        raise ArchitectureError(f"an architecture is a JSON object of search-space keys, got {architecture!r}")
    for key, value in architecture.items():
        entry = search_space.get(key)
        if entry is None:
            raise ArchitectureError(f"not in the search space (its keys: {', '.join(sorted(search_space))})", key)
        type_, spec = entry["_type"], entry["_value"]
        if type_ != MUTABLE_LAYER:
            check_variable(key, type_, spec, value)
            continue
        if not isinstance(value, Mapping):
            raise ArchitectureError(f"a mutable_layer block needs an object of layers, got {value!r}", key)
        for layer_key, choice in value.items():
            layer = spec.get(layer_key)
            if layer is None:
                raise ArchitectureError(f"layer '{layer_key}' is not in this block (its layers: "
                                        f"{', '.join(spec)})", key)
            check_layer_choice(key, layer_key, layer["layer_choice"], layer.get("optional_inputs", []),
                               layer.get("optional_input_size", 0), choice)
        missing = [layer_key for layer_key in spec if layer_key not in value]
        if missing and not partial:
            raise ArchitectureError(f"no choice for layer(s) {', '.join(missing)}", key)
    if not partial:
        missing = [key for key in search_space if key not in architecture]
        if missing:
            raise ArchitectureError(f"the architecture has no value for search-space key(s) "
                                    f"{', '.join(missing)}", missing[0])
