"""What the mode backends may use of the trial runtime without importing it: the one-way seam.

`runtime.trial` depends on `runtime.modes` (a trial context resolves its layers through the backend
registry); `runtime.modes` never imports `runtime.trial`. What a backend needs of a running trial goes
through this module, which imports neither:

- `TrialHost`: what a backend may ask of the trial context it serves (`TrialContext` is one);
- the current trial: `current_host()`, `set_host()`, `using_host()`. The trial runtime names how a
  trial context is made from the environment (`serve_trials`) when it is imported;
- the relaxed values of `nas.choice` (`IntChoice`, `FloatChoice`), which `nas.nn` modules take.

Stdlib only (DESIGN.md §5: `import nas` stays cheap).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Protocol

from nasctl.runtime.errors import TrialError

from nasctl.searchspace import relaxable_options

__all__ = [
    "FloatChoice",
    "IntChoice",
    "RelaxedChoice",
    "TrialHost",
    "current_host",
    "relaxed_choice",
    "serve_trials",
    "set_host",
    "using_host",
]


class TrialHost(Protocol):
    """What a layer backend may ask of the trial it serves (the trial context implements it)."""

    #: The parameters received so far (None before the first request).
    parameters: dict[str, Any] | None
    #: The trial's platform; backends read its `seed`.
    platform: Any

    @property
    def mode(self) -> str:
        """The trial's NAS mode."""

    def mode_options(self, mode: str) -> dict[str, Any]:
        """The options of `mode` from `NAS_MODE_CONFIG`."""

    def current_parameters(self) -> dict[str, Any]:
        """The current parameter set, fetched on first use."""

    def get_next_parameter(self) -> dict[str, Any] | None:
        """Ask for the next parameter set (enas: the next subgraph); None when there are no more."""

    def layer_choice(self, layer: Any) -> tuple[str, tuple[str, ...]]:
        """`(chosen label, chosen input labels)` of a layer in the current parameters, checked."""

    def candidate_registry(self, framework: str | None,
                           factory: Callable[[], MutableMapping[str, Any]] = dict) -> MutableMapping[str, Any]:
        """Where the candidates without an owner go (`nas.candidates()`)."""

    def report_arch_weights(self, value: Any) -> None:
        """Send the architecture weights (darts)."""

    def report_final_result(self, value: Any) -> None:
        """Send a final result (enas: `training_update(loss=...)` reports `-loss` as the reward)."""

    def backend(self, framework: str | None, mode: str) -> Any:
        """The trial's backend of `(framework, mode)`, made on first use."""

    @property
    def backends(self) -> list[Any]:
        """The backends the trial's layers use so far."""


_current: Any = None
_factory: Callable[[], Any] | None = None


def serve_trials(factory: Callable[[], TrialHost]) -> None:
    """Make `factory()` the current trial whenever one is asked for and none is set (the trial
    runtime calls this once, on import, with `TrialContext.from_environment`)."""
    global _factory
    _factory = factory


def current_host() -> TrialHost:
    """The current trial, made from the environment on first use."""
    global _current
    if _current is None:
        if _factory is None:
            raise TrialError("no trial is running in this process: the trial runtime (nasctl.runtime.trial, "
                             "`import nas`) was never loaded")
        _current = _factory()
    return _current


def set_host(host: TrialHost | None) -> TrialHost | None:
    """Make `host` the current trial (None: made from the environment on next use); returns the old one."""
    global _current
    previous, _current = _current, host
    return previous


@contextlib.contextmanager
def using_host(host: TrialHost) -> Iterator[TrialHost]:
    """Make `host` the current trial inside a `with` block, then restore the previous one."""
    previous = set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


class RelaxedChoice:
    """What `IntChoice` and `FloatChoice` add to their number: `key` and `options`."""

    key: str
    options: tuple[Any, ...]

    def __reduce__(self) -> tuple[Any, ...]:  # pickles, copies and JSON see the plain number
        base = int if isinstance(self, int) else float
        return (base, (base(self),))


class IntChoice(RelaxedChoice, int):
    """An `int` that is one option of the search-space choice `key` (runtime/trial/_value.py)."""

    def __new__(cls, value: int, key: str, options: tuple[int, ...]) -> IntChoice:
        self = int.__new__(cls, value)
        self.key, self.options = key, tuple(options)
        return self


class FloatChoice(RelaxedChoice, float):
    """A `float` that is one option of the search-space choice `key` (runtime/trial/_value.py)."""

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
