"""The value of a `nas.choice` that a one-shot mode may relax: a number that remembers its choice.

In enas, oneshot and darts mode a `choice` of distinct numbers returns an `IntChoice` or a
`FloatChoice`: an ordinary `int`/`float` (the trial's value for the key, so any code can use it) that
also carries its search-space key and options. A `nas.nn` module given one relaxes it: darts mixes its
options by architecture weights, oneshot samples one per step, enas switches with the subgraph. In
classic mode `choice` returns the plain value and `nas.nn` modules build exactly that size.

A `choice(..., architectural=True)` of functions returns a `MixedChoice` in those modes: calling it
calls every option and mixes their results by the architecture weights (darts), or calls the
option of this step (oneshot) or of this subgraph (enas).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nasctl.searchspace import relaxable_options

__all__ = ["FloatChoice", "IntChoice", "MixedChoice", "RelaxedChoice", "relaxed_choice"]


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
    if not relaxable_options(options) or isinstance(value, bool):
        return value
    if all(isinstance(o, int) for o in options):
        return IntChoice(int(value), key, options)
    return FloatChoice(float(value), key, tuple(float(o) for o in options))


class MixedChoice:
    """A relaxed `choice` among functions (`architectural=True`): see the module docstring.

    `darts`: `f(x) = sum_k w_k * option_k(x)` with `w = softmax(alpha)` of the key (or its Gumbel
    sample in training); the derived architecture reports the label of the argmax option.
    """

    def __init__(self, key: str, options: Sequence[Callable[..., Any]], labels: Sequence[Any]) -> None:
        self.key = key
        self.options = tuple(options)
        self.labels = tuple(labels)
        self._specs: dict[int, Any] = {}

    def __repr__(self) -> str:
        return f"MixedChoice({self.key!r}, {list(self.labels)!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nasctl.runtime.errors import TrialError
        from nasctl.runtime.modes._registry import detect_framework
        from nasctl.runtime.trial._context import current_context

        context = current_context()
        values = [*args, *kwargs.values()]
        backend = context.backend(detect_framework(None, [], values), context.mode)
        engine = backend.engine() if hasattr(backend, "engine") else getattr(backend, "inner", backend)
        if not hasattr(engine, "value_weights"):
            raise TrialError(f"choice '{self.key}' (architectural=True): the {context.mode} backend of this "
                             "framework cannot relax a choice of functions")
        spec = self._specs.get(id(engine))
        if spec is None:
            spec = self._specs[id(engine)] = engine.value_choice(self.key, self.labels)
        like = next((value for value in values if hasattr(value, "shape")), None)
        weights = engine.value_weights(spec, like, None)
        if isinstance(weights, int):
            return self.options[weights](*args, **kwargs)
        return engine.mix_values(weights, [option(*args, **kwargs) for option in self.options])
