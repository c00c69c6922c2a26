"""Trial-side functions of the one-shot modes for `nas`: `arch_parameters()`, `derive_architecture()`.

They work on the current trial context's backends and never import a framework themselves, so the
`nas` facade can expose them lazily. Any backend object with the same hooks (the tensorflow package's
too) is served: `arch_parameters()`, `derive(evaluate, budget, search, maximize=)`,
`derived_architecture()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from runtime.errors import TrialError


def _engines(context: Any) -> Iterator[Any]:
    for backend in context.backends:
        engine = getattr(backend, "inner", backend)
        if getattr(engine, "mode", getattr(backend, "mode", "classic")) != "classic":
            yield engine


def _context(context: Any) -> Any:
    if context is not None:
        return context
    from runtime.trial._context import current_context

    return current_context()


def arch_parameters(context: Any = None) -> list[Any]:
    """The architecture weights of the trial's layers (darts); `[]` in modes without any.

    They are kept out of `model.parameters()`; a script that wants its own architecture optimizer
    builds it over this list (and then need not call `training_update`).
    """
    params: list[Any] = []
    for engine in _engines(_context(context)):
        hook = getattr(engine, "arch_parameters", None)
        if callable(hook):
            params.extend(hook())
    return params


def derive_architecture(
    evaluate: Callable[[], float] | None = None,
    budget: int | None = None,
    search: str | None = None,
    *,
    maximize: bool | None = None,
    context: Any = None,
) -> dict[str, Any]:
    """The architecture this trial derives, in the format of DESIGN.md §3, variables included.

    - oneshot: scores subnets with the shared weights through `evaluate()` (no argument, returns a
      number, higher is better unless `maximize=False` or `oneshot: {optimize_mode: minimize}`);
      `budget` and `search` (`"random"` or `"evolution"`) default to the `oneshot:` options.
    - darts: the argmax of the architecture weights; enas: the best-rewarded subgraph
      (`evaluate` is not needed and not called).
    - classic: the trial's current architecture, so one script runs in every mode.

    The result is also what the trial reports as its derived architecture with its final result, so
    call this before `report_final_result`.
    """
    from runtime.trial._context import use_context

    ctx = _context(context)
    derived: dict[str, Any] = {}
    for engine in _engines(ctx):
        derive = getattr(engine, "derive", None)
        if callable(derive):
            if evaluate is None or not callable(evaluate):
                raise TrialError("oneshot mode: derive_architecture(evaluate) needs evaluate, a function "
                                 "without arguments that scores the current subnet on validation data")
            with use_context(ctx):  # evaluate() runs the model's layers in this trial's context
                derived.update(derive(evaluate, budget, search, maximize=maximize))
        elif getattr(engine, "specs", None):
            found = engine.derived_architecture()
            if found:
                derived.update(found)
    parameters = ctx.current_parameters()
    result = {key: value for key, value in parameters.items() if key not in derived}
    result.update(derived)
    return result
