"""The trial context: the one object that holds a trial's platform, parameters, layers and backends.

It is created lazily from the environment on the first API call (`current_context()`), and can be
replaced, for a test or for `nasctl trial run`, with `set_context` or `use_context`.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import sys
import weakref
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from nasctl.runtime._numbers import number_problem
from nasctl.runtime.errors import ArchitectureError, TrialError
from nasctl.runtime.trial._platform import Platform, platform_from_environment

from nasctl.searchspace import (
    check_layer_choice,
    check_variable,
    key_random,
    normalize_mode,
    sample_layer,
    sample_value,
)

if TYPE_CHECKING:
    from nasctl.runtime.modes._backend import CandidateTable, LayerBackend, LayerCall, LayerRequest
# The modes are imported when first needed (a layer, the trial's mode): a trial that only gets its
# parameters and reports results never loads them.

__all__ = ["TrialContext", "current_context", "set_context", "use_context"]


def _metric(value: Any, what: str) -> float | int | dict[str, Any]:
    """A reported value as JSON: a number, or a dict with a numeric `default`."""
    if isinstance(value, Mapping):
        if "default" not in value:
            raise TrialError(f"{what}: a dict result needs a 'default' key (the value tuners compare), "
                             f"got keys {sorted(map(str, value))}")
        result = dict(value)
        result["default"] = _metric(value["default"], f"{what} ['default']")
        try:
            json.dumps(result)
        except (TypeError, ValueError) as error:
            raise TrialError(f"{what}: the result is not JSON-serialisable: {error}") from None
        _finite(result, what)
        return result
    if hasattr(value, "item") and not isinstance(value, numbers.Number):
        try:  # a one-element array or tensor
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TrialError(f"{what}: a result is a number or a dict with a 'default' key, "
                         f"got {type(value).__name__} {value!r}")
    number = int(value) if isinstance(value, numbers.Integral) else float(value)
    _finite(number, what)
    return number


def _finite(value: Any, what: str) -> None:
    problem = number_problem(value)
    if problem is not None:
        raise TrialError(f"{what}: refused, {problem} (a result must be a finite number that fits a float)")


def _architecture_json(architecture: Mapping[str, Any]) -> str:
    """`architecture` as canonical JSON, to tell whether it changed since it was last sent."""
    return json.dumps(architecture, sort_keys=True, default=repr)


class TrialContext:
    """One trial's state: its platform, current parameters, resolved layers and mode backends."""

    def __init__(self, platform: Platform, *, mode_config: Mapping[str, Any] | None = None,
                 output_dir: str | None = None, mode: str | None = None) -> None:
        self.platform = platform
        # The trial's mode (NAS_MODE); without one, the mode of the first compiled layer call, else classic.
        self._mode = mode or None  # as given; `mode` normalises it
        self.mode_config: dict[str, Any] = dict(mode_config or {})
        self.output_dir = output_dir
        self.parameters: dict[str, Any] | None = None
        self.parameter_id: int | None = None
        self.exhausted = False
        self._sequence = 0
        # (id(owner), block key, layer key) -> the resolved per-call function
        self.layers: dict[tuple[int, str, str], LayerCall] = {}
        self._backends: dict[type[LayerBackend], LayerBackend] = {}
        self._watched: set[int] = set()
        self._pinned: list[Any] = []
        self._registries: dict[str | None, MutableMapping[str, Any]] = {}
        self._sent_architecture: str | None = None  # JSON of the last architecture sent
        self._finals: set[int | None] = set()  # parameter ids whose final result was sent
        self._ignored_finals: set[int | None] = set()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrialContext:
        """The context the trial's environment variables describe (docs/internals.md)."""
        environ = os.environ if environ is None else environ
        text = environ.get("NAS_MODE_CONFIG", "").strip() or "{}"
        try:
            mode_config = json.loads(text)
        except json.JSONDecodeError as error:
            raise TrialError(f"NAS_MODE_CONFIG is not valid JSON: {error}") from None
        if not isinstance(mode_config, dict):
            raise TrialError(f"NAS_MODE_CONFIG must be a JSON object, got {text!r}")
        return cls(platform_from_environment(environ), mode_config=mode_config,
                   output_dir=environ.get("NAS_OUTPUT_DIR") or None, mode=environ.get("NAS_MODE") or None)

    @property
    def mode(self) -> str:
        """The trial's NAS mode: what `nas.choice` and `nas.nn` modules follow (classic when unknown)."""
        return normalize_mode(self._mode, known=None) if self._mode else "classic"

    def mode_options(self, mode: str) -> dict[str, Any]:
        """The options of `mode` in `NAS_MODE_CONFIG`: its `{mode: {...}}` section, or the whole object when
        it holds no mode sections (the manager writes the mode's section itself)."""
        section = self.mode_config.get(mode)
        if isinstance(section, dict):
            return section
        if any(name in self.mode_config for name in ("classic", "enas", "oneshot", "darts")):
            return {}
        return self.mode_config

    # -- parameters -------------------------------------------------------------------------------

    def get_next_parameter(self) -> dict[str, Any] | None:
        """Ask the platform for the next parameter set; None when there are no more."""
        received = self.platform.request_parameters()
        if received is None:
            self.exhausted = True
            if self.parameters is None:
                self.parameters = {}
            return None
        self.parameter_id, self.parameters = received
        self._sequence = 0
        for backend in self._backends.values():
            backend.on_parameters(self.parameters)
        self.layers.clear()
        return self.parameters

    def current_parameters(self) -> dict[str, Any]:
        """The current parameter set, fetched on first use."""
        if self.parameters is None:
            self.get_next_parameter()
        if self.exhausted and not self.parameters:
            raise TrialError(f"trial {self.platform.trial_id}: the experiment has no parameters for this "
                             "trial (no more parameters)")
        return self.parameters  # type: ignore[return-value]

    def get_current_parameter(self, key: str | None = None) -> Any:
        """The whole current parameter set, or the value of `key` in it."""
        parameters = self.current_parameters()
        if key is None:
            return parameters
        if key not in parameters:
            raise ArchitectureError(f"no such key in the trial's parameters (keys: {', '.join(parameters)})", key)
        return parameters[key]

    def variable(self, key: str, type_: str, spec: Sequence[Any]) -> Any:
        """The value of variable `key` (`type_`, `_value` `spec`) in the current parameters, checked."""
        parameters = self.current_parameters()
        if key in parameters:
            return check_variable(key, type_, spec, parameters[key])
        if not self.platform.samples_missing:
            raise ArchitectureError(f"the trial's architecture has no value for this {type_}", key)
        value = parameters[key] = sample_value(key_random(self.platform.seed, key), type_, spec)
        return value

    def layer_choice(self, layer: LayerRequest) -> tuple[str, tuple[str, ...]]:
        """`(chosen label, chosen input labels)` of a layer in the current parameters, checked."""
        parameters = self.current_parameters()
        block = parameters.get(layer.block_key)
        entry = block.get(layer.layer_key) if isinstance(block, Mapping) else None
        if entry is None:
            if not self.platform.samples_missing:
                what = "block" if block is None else f"layer '{layer.layer_key}' in its block"
                raise ArchitectureError(f"the trial's architecture has no choice for this {what}", layer.block_key)
            rng = key_random(self.platform.seed, layer.block_key, layer.layer_key)
            entry = sample_layer(rng, layer.labels, layer.input_labels, layer.optional_input_size,
                                 layer.block_key, layer.layer_key)
            if not isinstance(block, dict):
                block = parameters[layer.block_key] = {}
            block[layer.layer_key] = entry
        return check_layer_choice(layer.block_key, layer.layer_key, layer.labels, layer.input_labels,
                                  layer.optional_input_size, entry)

    # -- results ----------------------------------------------------------------------------------

    def _parameter_id(self) -> int | None:
        if self.parameters is None:
            self.get_next_parameter()
        return self.parameter_id

    def report_intermediate_result(self, value: Any) -> None:
        """Send one intermediate result (a number or a dict with `default`)."""
        value = _metric(value, "report_intermediate_result")
        parameter_id = self._parameter_id()
        self.platform.send_metric("intermediate", value, parameter_id, self._sequence)
        self._sequence += 1

    def report_arch_weights(self, value: Any) -> None:
        """Send a darts backend's architecture weights, `{"default": arch_loss, "arch_weights": {...},
        "step": n}`: stored apart from the intermediate results, which stay the user's learning curve."""
        value = _metric(value, "report_arch_weights")
        step = value.get("step") if isinstance(value, dict) else None
        sequence = step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None
        self.platform.send_metric("arch_weights", value, self._parameter_id(), sequence)

    def report_final_result(self, value: Any) -> None:
        """Send the final result; one-shot backends' derived architectures go first, each only when it
        differs from the last architecture sent (the experiment keeps the latest one)."""
        value = _metric(value, "report_final_result")
        parameter_id = self._parameter_id()
        for backend in list(self._backends.values()):
            derived = backend.derive_architecture()
            if derived is not None and _architecture_json(derived) != self._sent_architecture:
                # enas reports a result every step; its derived architecture changes far less often
                self.report_architecture(derived)
        if self.platform.one_final_per_parameter and parameter_id in self._finals:
            if parameter_id not in self._ignored_finals:
                self._ignored_finals.add(parameter_id)
                print(f"nasctl: warning: trial {self.platform.trial_id}: report_final_result({json.dumps(value)}) "
                      f"ignored: parameter {parameter_id} already has a final result, and the first one stands "
                      "(further ones are ignored without a warning)", file=sys.stderr, flush=True)
            return
        self.platform.send_metric("final", value, parameter_id, None)
        self._finals.add(parameter_id)
        for backend in list(self._backends.values()):
            backend.on_final_result(value)

    def report_architecture(self, architecture: Mapping[str, Any]) -> None:
        """Send the architecture this trial derived (one-shot modes)."""
        if not isinstance(architecture, Mapping):
            raise TrialError(f"report_architecture: an architecture is a dict, got {type(architecture).__name__}")
        self.platform.send_architecture(dict(architecture), self.parameter_id)
        self._sent_architecture = _architecture_json(architecture)

    def training_update(self, **kwargs: Any) -> None:
        """Forward `nas.training_update(**kwargs)` to every active mode backend."""
        for backend in list(self._backends.values()):
            backend.training_update(**kwargs)

    # -- layers -----------------------------------------------------------------------------------

    def backend(self, framework: str | None, mode: str) -> LayerBackend:
        """This context's instance of the backend for `(framework, mode)`."""
        from nasctl.runtime.modes._registry import backend_class

        cls = backend_class(framework, mode)
        backend = self._backends.get(cls)
        if backend is None:
            backend = self._backends[cls] = cls(self)
        return backend

    @property
    def backends(self) -> list[LayerBackend]:
        """The backends this trial's layers use so far."""
        return list(self._backends.values())

    def candidate_registry(self, framework: str | None,
                           factory: Callable[[], MutableMapping[str, Any]] = dict) -> MutableMapping[str, Any]:
        """The registry of candidate instances without an owner for `framework` (made by `factory`)."""
        registry = self._registries.get(framework)
        if registry is None:
            registry = self._registries[framework] = factory()
        return registry

    def candidates(self, framework: str | None = None) -> MutableMapping[str, Any]:
        """`nas.candidates()`: the no-owner registry of `framework`, else of the framework in use."""
        if framework is not None:
            return self._registries.get(framework) or {}
        for name in ("torch", "tensorflow", None):
            if name in self._registries:
                return self._registries[name]
        return {}

    def resolve_layer(self, block_key: str, layer_key: str, candidates: CandidateTable,
                      fixed_inputs: list[Any], optional_inputs: Mapping[str, Any], optional_input_size: Any,
                      mode: str, owner: Any) -> LayerCall:
        """Resolve a layer's backend and per-call function on its first call, and cache it."""
        from nasctl.runtime.modes._backend import LayerRequest
        from nasctl.runtime.modes._registry import detect_framework

        if not isinstance(candidates, Mapping) or not candidates:
            raise TrialError(f"mutable_layer {block_key}/{layer_key}: candidates must be a non-empty dict "
                             f"of label -> (callee, args, kwargs), got {candidates!r}")
        if not isinstance(optional_inputs, Mapping):
            raise TrialError(f"mutable_layer {block_key}/{layer_key}: optional_inputs must be a dict of "
                             f"label -> value, got {type(optional_inputs).__name__}")
        if self._mode is None:
            self._mode = mode
        framework = detect_framework(owner, (entry[0] for entry in candidates.values()),
                                     chain(fixed_inputs, optional_inputs.values()))
        layer = LayerRequest(block_key, layer_key, candidates, fixed_inputs, optional_inputs,
                             optional_input_size, mode, owner, framework)
        call = self.backend(framework, mode).resolve(layer)
        self._watch(owner)
        self.layers[(id(owner), block_key, layer_key)] = call
        return call

    def _watch(self, owner: Any) -> None:
        # Cached layers are keyed by id(owner); forget them when the owner dies, so the id can be reused.
        if owner is None or id(owner) in self._watched:
            return
        try:
            weakref.finalize(owner, self._forget, id(owner))
        except TypeError:
            self._pinned.append(owner)
        self._watched.add(id(owner))

    def _forget(self, owner_id: int) -> None:
        self._watched.discard(owner_id)
        for key in [key for key in self.layers if key[0] == owner_id]:
            del self.layers[key]

    def close(self) -> None:
        """Close the backends and the platform's connection."""
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        self.layers.clear()
        self.platform.close()


_current: TrialContext | None = None


def current_context() -> TrialContext:
    """The trial's context, created from the environment on first use."""
    global _current
    if _current is None:
        _current = TrialContext.from_environment()
    return _current


def set_context(context: TrialContext | None) -> TrialContext | None:
    """Make `context` the current one (None: create from the environment on next use); returns the old."""
    global _current
    previous, _current = _current, context
    return previous


@contextlib.contextmanager
def use_context(context: TrialContext) -> Iterator[TrialContext]:
    """Make `context` current inside a `with` block, then restore the previous one."""
    previous = set_context(context)
    try:
        yield context
    finally:
        set_context(previous)


def mutable_layer(block_key: str, layer_key: str, candidates: CandidateTable, fixed_inputs: list[Any],
                  optional_inputs: Mapping[str, Any], optional_input_size: int | Sequence[int],
                  mode: str = "classic", owner: Any = None) -> Any:
    """Run one mutable layer: the trial's mode decides which candidates run on which inputs.

    This is the call the compiler writes for each layer (docs/internals.md, "A layer"); it can be
    written by hand too. In classic mode the chosen candidate runs on `[fixed_inputs, chosen]`:

    >>> def add(inputs, k):
    ...     fixed, chosen = inputs
    ...     return sum(fixed) + sum(chosen) + k
    >>> mutable_layer("m/h", "h", {"add(k=1)": (add, (), {"k": 1})}, [1], {"s": 2}, [0, 1])  # doctest: +SKIP
    """
    context = _current if _current is not None else current_context()
    call = context.layers.get((id(owner), block_key, layer_key))
    if call is None:
        call = context.resolve_layer(block_key, layer_key, candidates, fixed_inputs, optional_inputs,
                                     optional_input_size, mode, owner)
    return call(candidates, fixed_inputs, optional_inputs)
