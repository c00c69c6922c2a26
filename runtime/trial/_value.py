"""The value of a `nas.choice` that a one-shot mode may relax: a number that remembers its choice.

In enas, oneshot and darts mode a `choice` of distinct numbers returns an `IntChoice` or a
`FloatChoice`: an ordinary `int`/`float` (the trial's value for the key, so any code can use it) that
also carries its search-space key and options. A `nas.nn` module given one relaxes it: darts mixes its
options by architecture weights, oneshot samples one per step, enas switches with the subgraph. In
classic mode `choice` returns the plain value and `nas.nn` modules build exactly that size.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FloatChoice", "IntChoice", "RelaxedChoice", "relaxed_choice"]


class RelaxedChoice:
    """What `IntChoice` and `FloatChoice` add to their number: `key` and `options`."""

    key: str
    options: tuple[Any, ...]

    def __reduce__(self) -> tuple[Any, ...]:  # pickles, copies and JSON see the plain number
        base = int if isinstance(self, int) else float
        return (base, (base(self),))


class IntChoice(RelaxedChoice, int):
    """An `int` that is one option of the search-space choice `key` (see the module docstring)."""

    def __new__(cls, value: int, key: str, options: tuple[int, ...]) -> IntChoice:
        self = int.__new__(cls, value)
        self.key, self.options = key, tuple(options)
        return self


class FloatChoice(RelaxedChoice, float):
    """A `float` that is one option of the search-space choice `key` (see the module docstring)."""

    def __new__(cls, value: float, key: str, options: tuple[float, ...]) -> FloatChoice:
        self = float.__new__(cls, value)
        self.key, self.options = key, tuple(options)
        return self


def relaxed_choice(value: Any, key: str, options: tuple[Any, ...]) -> Any:
    """`value` as an `IntChoice`/`FloatChoice` of `key` when the options are distinct numbers; else `value`."""
    numbers = all(isinstance(o, (int, float)) and not isinstance(o, bool) for o in options)
    if not numbers or len(set(options)) != len(options) or isinstance(value, bool):
        return value
    if all(isinstance(o, int) for o in options):
        return IntChoice(int(value), key, options)
    return FloatChoice(float(value), key, tuple(float(o) for o in options))
