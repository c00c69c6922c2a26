"""The search space's rules, in one place: what the annotator, tuners, trial runtime, modes and manager share.

A search space is NNI's JSON format (DESIGN.md §3): keys to entries, each a `mutable_layer` block or
one of the ten sampling types; an architecture gives each key a value. This package owns:

- the vocabulary: `SAMPLING_TYPES` (with `SAMPLING_ARITY`), `MUTABLE_LAYER`, the mode names
  (`MODES`, `normalize_mode`), which choices one-shot modes relax (`relaxable_options`);
- keys: loop-indexed keys (`indexed_key`, `expand_key`, `loop_mismatch`), a key's `<type>`
  (`key_type`, `is_function_choice`) and where a layer's candidate is kept (`candidate_key`);
- equality: `json_equal`, and a label naming an option (`find_label`, `choice_index`, `same_source`);
- layers: `input_size_bounds`, `LayerSpec`, `check_layer_choice`, `sample_layer`, `sample_inputs`;
- variables: `check_variable`, `sample_value`, `key_random`;
- whole architectures: `validate_architecture`, `sample_architecture`;
- the tuners' view, a space as independent dimensions: `dimensions()`, `Dimension` and its kinds;
- its errors: `ArchitectureError(message, key)` (a `nasctl.runtime.errors.NasError`) and
  `SearchSpaceError(detail, key)`.

A leaf: it imports only the standard library and `nasctl`'s root errors; numpy is imported inside
the few functions of `dimensions` that need it. Each name loads its module on first use, so a trial
that only reports results loads none of them (`import nas` stays cheap).

>>> from nasctl import searchspace
>>> space = {"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]}}
>>> searchspace.validate_architecture(searchspace.sample_architecture(space, seed=1), space)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasctl.searchspace._architecture import sample_architecture, validate_architecture
    from nasctl.searchspace._dimensions import (
        MAX_CATEGORIES,
        Continuous,
        Dimension,
        InputSet,
        Options,
        Quantized,
        RandInt,
        dimensions,
        randbelow,
    )
    from nasctl.searchspace._equality import (
        choice_index,
        find_label,
        json_equal,
        same_source,
        show_value,
    )
    from nasctl.searchspace._errors import ArchitectureError, SearchSpaceError
    from nasctl.searchspace._keys import (
        FUNCTION_CHOICE,
        candidate_key,
        expand_key,
        index_combinations,
        indexed_key,
        is_function_choice,
        key_type,
        loop_mismatch,
    )
    from nasctl.searchspace._layers import (
        check_layer_choice,
        input_size_bounds,
        sample_inputs,
        sample_layer,
    )
    from nasctl.searchspace._spec import Architecture, LayerSpec
    from nasctl.searchspace._types import (
        MODES,
        MUTABLE_LAYER,
        SAMPLING_ARITY,
        SAMPLING_TYPES,
        normalize_mode,
        relaxable_options,
    )
    from nasctl.searchspace._values import check_variable, key_random, sample_value

# Each public name -> its private module, imported on first use.
_HOME = {
    "sample_architecture": "_architecture",
    "validate_architecture": "_architecture",
    "MAX_CATEGORIES": "_dimensions",
    "Continuous": "_dimensions",
    "Dimension": "_dimensions",
    "InputSet": "_dimensions",
    "Options": "_dimensions",
    "Quantized": "_dimensions",
    "RandInt": "_dimensions",
    "dimensions": "_dimensions",
    "randbelow": "_dimensions",
    "choice_index": "_equality",
    "find_label": "_equality",
    "json_equal": "_equality",
    "same_source": "_equality",
    "show_value": "_equality",
    "ArchitectureError": "_errors",
    "SearchSpaceError": "_errors",
    "FUNCTION_CHOICE": "_keys",
    "candidate_key": "_keys",
    "expand_key": "_keys",
    "index_combinations": "_keys",
    "indexed_key": "_keys",
    "is_function_choice": "_keys",
    "key_type": "_keys",
    "loop_mismatch": "_keys",
    "check_layer_choice": "_layers",
    "input_size_bounds": "_layers",
    "sample_inputs": "_layers",
    "sample_layer": "_layers",
    "Architecture": "_spec",
    "LayerSpec": "_spec",
    "MODES": "_types",
    "MUTABLE_LAYER": "_types",
    "SAMPLING_ARITY": "_types",
    "SAMPLING_TYPES": "_types",
    "normalize_mode": "_types",
    "relaxable_options": "_types",
    "check_variable": "_values",
    "key_random": "_values",
    "sample_value": "_values",
}

__all__ = [
    "Architecture",
    "ArchitectureError",
    "Continuous",
    "Dimension",
    "FUNCTION_CHOICE",
    "InputSet",
    "LayerSpec",
    "MAX_CATEGORIES",
    "MODES",
    "MUTABLE_LAYER",
    "Options",
    "Quantized",
    "RandInt",
    "SAMPLING_ARITY",
    "SAMPLING_TYPES",
    "SearchSpaceError",
    "candidate_key",
    "check_layer_choice",
    "check_variable",
    "choice_index",
    "dimensions",
    "expand_key",
    "find_label",
    "index_combinations",
    "indexed_key",
    "input_size_bounds",
    "is_function_choice",
    "json_equal",
    "key_random",
    "key_type",
    "loop_mismatch",
    "normalize_mode",
    "randbelow",
    "relaxable_options",
    "same_source",
    "sample_architecture",
    "sample_inputs",
    "sample_layer",
    "sample_value",
    "show_value",
    "validate_architecture",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'nasctl.searchspace' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nasctl.searchspace.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
