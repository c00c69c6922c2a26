"""The vocabulary of a search space: its entry types, the sampling types, the NAS mode names.

An entry of a search space (NNI's JSON format, DESIGN.md §3) is a `mutable_layer` block or one of
the ten sampling types (a variable, or a function choice: a `choice` among calls).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = [
    "MODES",
    "MUTABLE_LAYER",
    "SAMPLING_ARITY",
    "SAMPLING_TYPES",
    "normalize_mode",
    "relaxable_options",
]

SAMPLING_ARITY: dict[str, int | None] = {
    "choice": None,
    "randint": 2,
    "uniform": 2,
    "quniform": 3,
    "loguniform": 2,
    "qloguniform": 3,
    "normal": 2,
    "qnormal": 3,
    "lognormal": 2,
    "qlognormal": 3,
}
"""The sampling types (NNI's `_type`s of a variable) with their number of `_value` arguments
(None: a `choice` takes any number of options)."""

SAMPLING_TYPES: tuple[str, ...] = tuple(SAMPLING_ARITY)
"""The ten sampling types, in NNI's order."""

MUTABLE_LAYER = "mutable_layer"
"""The `_type` of a block of layers: `{layer: {layer_choice, optional_inputs, optional_input_size}}`."""

MODES = ("classic", "enas", "oneshot", "darts")
"""The NAS modes nasctl knows; NNI spells them `<mode>_mode`."""


def normalize_mode(name: str, known: Collection[str] | None = MODES) -> str:
    """The canonical mode name (`" Darts_mode "` -> `"darts"`); a `ValueError` unless it is one of `known`.

    `known=None` accepts any name (a registry of backends whose modes a plugin may add).

    >>> normalize_mode("enas_mode"), normalize_mode("my_mode", known=None)
    ('enas', 'my')
    """
    if isinstance(name, str):
        canonical = name.strip().lower()
        canonical = canonical[: -len("_mode")] if canonical.endswith("_mode") else canonical
        if known is None or canonical in known:
            return canonical
    names = tuple(known or ())
    expected = ", ".join(names + tuple(f"{mode}_mode" for mode in names))
    raise ValueError(f"unknown NAS mode {name!r}; expected one of: {expected}" if names
                     else f"a NAS mode is a name, got {name!r}")


def relaxable_options(options: Sequence[Any]) -> bool:
    """Whether a choice's options are sizes a one-shot mode can relax: distinct numbers (not booleans).

    >>> relaxable_options([8, 16, 32]), relaxable_options([0.25, 1.0]), relaxable_options([1, True])
    (True, True, False)
    """
    return (bool(options) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in options)
            and len(set(options)) == len(options))
