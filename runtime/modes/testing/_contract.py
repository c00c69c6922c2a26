"""The contract check of the backend kit: every registered backend implements the `LayerBackend`
contract, with the documented behaviour before any layer ran."""

from __future__ import annotations

import inspect
from collections.abc import Callable, MutableMapping
from types import SimpleNamespace
from typing import Any

from nasctl.runtime.modes._backend import CONTRACT, LayerBackend
from nasctl.runtime.modes._registry import backend_class, normalize_mode

from ._errors import BackendConformanceError

__all__ = ["ContractHost", "contract_problems"]

# How the trial calls each method (positional arguments after the instance; keyword names).
_CALLS: dict[str, tuple[tuple[Any, ...], tuple[str, ...]]] = {
    "for_trial": (("context",), ()),
    "resolve": (("layer",), ()),
    "set_architecture": (("architecture",), ()),
    "training_update": ((), ("loss",)),
    "arch_parameters": ((), ()),
    "derived_architecture": ((), ()),
    "on_final_result": (("value",), ()),
    "close": ((), ()),
}


class ContractHost:
    """A trial context for the contract check: no parameters yet, seed 0, and it records what the
    backend sends."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.parameters: dict[str, Any] | None = None
        self.platform = SimpleNamespace(seed=0)
        self.sent: list[tuple[str, Any]] = []
        self._registries: dict[str | None, MutableMapping[str, Any]] = {}

    def mode_options(self, mode: str) -> dict[str, Any]:
        return {}

    def current_parameters(self) -> dict[str, Any]:
        return self.parameters or {}

    def get_next_parameter(self) -> dict[str, Any] | None:
        return None

    def layer_choice(self, layer: Any) -> tuple[str, tuple[str, ...]]:
        raise BackendConformanceError(f"layer_choice({layer!r}) asked before any layer ran")

    def candidate_registry(self, framework: str | None,
                           factory: Callable[[], MutableMapping[str, Any]] = dict) -> MutableMapping[str, Any]:
        return self._registries.setdefault(framework, factory())

    def report_arch_weights(self, value: Any) -> None:
        self.sent.append(("arch_weights", value))

    def report_final_result(self, value: Any) -> None:
        self.sent.append(("final", value))

    def backend(self, framework: str | None, mode: str) -> Any:
        raise BackendConformanceError("a backend asked the trial for another backend before any layer ran")

    @property
    def backends(self) -> list[Any]:
        return []


def _signature_problems(cls: type) -> list[str]:
    problems = []
    for name in CONTRACT:
        method = getattr(cls, name, None)
        if not callable(method):
            problems.append(f"it has no method {name}()")
            continue
        args, keywords = _CALLS[name]
        try:
            inspect.signature(method).bind(*([None] * (len(args) + (name != "for_trial"))),
                                           **dict.fromkeys(keywords))
        except TypeError as error:
            problems.append(f"{name}() cannot be called as the trial calls it ({error})")
    if getattr(cls, "resolve", None) is LayerBackend.resolve:
        problems.append("it does not implement resolve()")
    return problems


def contract_problems(framework: str | None, mode: str, cls: type | None = None) -> list[str]:
    """What the backend of `(framework, mode)` (or `cls`) breaks of the contract; empty: nothing."""
    mode = normalize_mode(mode, known=None)
    cls = cls or backend_class(framework, mode)
    if not (isinstance(cls, type) and issubclass(cls, LayerBackend)):
        return [f"{cls!r} is not a LayerBackend subclass"]
    problems = []
    if cls.mode != mode:
        problems.append(f"its mode is {cls.mode!r}, not {mode!r}")
    if cls.framework != framework:
        problems.append(f"its framework is {cls.framework!r}, not {framework!r}")
    problems += _signature_problems(cls)
    if problems:
        return problems
    host = ContractHost(mode)
    try:
        backend = cls.for_trial(host)
        if not isinstance(backend, cls) or backend.context is not host:
            problems.append("for_trial(context) did not return an instance attached to the context")
        if not isinstance(backend.arch_parameters(), list):
            problems.append("arch_parameters() is not a list")
        derived = backend.derived_architecture()
        if derived is not None:
            problems.append(f"derived_architecture() before any layer ran is {derived!r}, not None")
        backend.set_architecture({})
        if backend.architecture != {}:
            problems.append(f"set_architecture({{}}) left the architecture at {backend.architecture!r}")
        backend.close()
    except BackendConformanceError as error:
        problems.append(str(error))
    except Exception as error:  # noqa: BLE001 - the check names whatever a broken backend raises
        problems.append(f"the lifecycle before any layer raised {type(error).__name__}: {error}")
    return problems
