"""A conformance kit for the one-shot backends: the same synthetic task on torch and TensorFlow.

The task is one mutable layer whose right answer is known: of three convolutions (kernel 3, kernel 3
dilated, kernel 1) only `Conv(3)` can express the target, and of the optional inputs `s1`, `s2` only
`s2` is in it. Each one-shot mode searches it from scratch (a few seconds) and must

- derive the right candidate and input (darts: with most of the architecture weight on them; enas:
  from rewards; oneshot: by evaluating subnets of the trained supernet, then give the supernet back),
- return the derived architecture in the architecture format (DESIGN.md §3) of the layer's space,
- build each candidate once on the first forward and train those same weights across steps (the
  weights are shared between subgraphs, and the model's optimizer sees them).

>>> from nasctl.runtime.modes import testing
>>> testing.check_backend("torch", "oneshot_single_path", seed=0)
'torch oneshot_single_path'

The task's layer runs through the backend contract (`resolve`, then the returned call), and
`check_contract(framework)` checks that every registered backend of the framework implements the
contract (`nasctl.runtime.modes.CONTRACT`): each method callable as the trial calls it, `for_trial`
attaching it to a trial, `derived_architecture()` None and `arch_parameters()` a list before any layer
ran, `set_architecture` and `close` accepted.

>>> testing.check_contract("torch")
['torch classic', 'torch darts', 'torch enas', 'torch oneshot']

`check_backend(framework, mode, factory=MyBackend)` runs a task on another backend class built as
`factory(options, seed=seed)`; `check_backends(framework)` checks the contract and runs every mode. `task_module(framework)`
gives the task's pieces (`Net`, `Task`, `TARGET`, ...) to write more tests on; the TensorFlow one
imports TensorFlow, which is an optional dependency (`pip install nasctl[tf]`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ._errors import BackendConformanceError
from ._run import BackendFactory, Run

__all__ = ["FRAMEWORKS", "MODES", "check_backend", "check_backends", "check_contract", "task_module",
           "BackendConformanceError", "BackendFactory", "Run"]

FRAMEWORKS = ("torch", "tensorflow")
MODES = ("darts", "enas", "oneshot_dropout", "oneshot_single_path")
"""The one-shot modes the kit searches with (oneshot once per training strategy)."""

_MODULES = {"torch": ("_torch", "torch", "pip install torch"),
            "tensorflow": ("_tensorflow", "tensorflow", "pip install nasctl[tf]")}


def task_module(framework: str) -> ModuleType:
    """The synthetic task written for `framework` ('torch' or 'tensorflow'), imported on first use."""
    if framework not in _MODULES:
        raise BackendConformanceError(f"unknown framework {framework!r}; the kit has {', '.join(FRAMEWORKS)}")
    module, package, install = _MODULES[framework]
    try:
        importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"the {framework} backend kit needs {package} ({install}): {error}") from None
    return importlib.import_module(f"{__name__}.{module}")


def check_backend(framework: str, mode: str, *, seed: int = 0, factory: BackendFactory | None = None) -> str:
    """Search the task with `mode` on `framework`; raise `BackendConformanceError` naming every
    property the backend breaks. Returns `"<framework> <mode>"`."""
    from ._run import verify

    if mode not in MODES:
        raise BackendConformanceError(f"unknown mode {mode!r}; the kit searches with {', '.join(MODES)}")
    task = task_module(framework)
    run = task.search(mode, seed, factory)
    verify(framework, mode, run, task.TARGET, task.SEARCH_SPACE, list(task.LABELS))
    return f"{framework} {mode}"


def check_contract(framework: str | None) -> list[str]:
    """Check every registered backend of `framework` (None: the any-framework ones) against the
    backend contract; raise `BackendConformanceError` naming each pair and what it breaks. Returns the
    pairs checked, as `"<framework> <mode>"`."""
    from nasctl.runtime.modes._registry import registered

    from ._contract import contract_problems

    if framework is not None:
        task_module(framework)  # the framework is installed (its backends import it)
    failures, checked = [], []
    for owner, mode in registered():
        if owner != framework:
            continue
        name = f"{framework or 'any framework'} {mode}"
        problems = contract_problems(framework, mode)
        if problems:
            failures.append(f"{name}: " + "; ".join(problems))
        checked.append(name)
    if failures:
        raise BackendConformanceError(f"{len(failures)} backend(s) break the contract:\n  " + "\n  ".join(failures))
    return checked


def check_backends(framework: str, *, seed: int = 0) -> list[str]:
    """`check_contract` and `check_backend` for every mode of `framework`; one error listing every failure."""
    check_contract(framework)
    failures, checked = [], []
    for mode in MODES:
        try:
            checked.append(check_backend(framework, mode, seed=seed))
        except BackendConformanceError as error:
            failures.append(str(error))
    if failures:
        raise BackendConformanceError(f"{len(failures)} of {len(MODES)} {framework} modes failed the task:\n  "
                                      + "\n  ".join(failures))
    return checked
