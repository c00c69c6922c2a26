"""The backend contract: what every `(framework, mode)` backend implements, and what a layer gives it.

`LayerBackend` is the contract (see the `nasctl.runtime.modes` docstring for when the trial calls each
method); `FrameworkBackend` is what the torch and TensorFlow base classes add to it for the backends a
test drives by hand (the hooks, the layers' specs, the candidate registry).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nasctl.runtime.errors import TrialError

if TYPE_CHECKING:
    from nasctl.runtime._host import TrialHost
    from nasctl.runtime.modes._spec import LayerSpec

Architecture = dict[str, Any]

# label -> (callee, args, kwargs), as the compiled code passes it (docs/internals.md, "A layer").
CandidateTable = Mapping[str, tuple[Any, Sequence[Any], Mapping[str, Any]]]

# What a backend returns for one layer: called on every forward as `call(candidates, fixed, optional)`.
LayerCall = Callable[[CandidateTable, list[Any], Mapping[str, Any]], Any]


@dataclass(frozen=True)
class LayerRequest:
    """One layer of one owner, as seen on its first call; what `LayerBackend.resolve` is given.

    `candidates`, `fixed_inputs` and `optional_inputs` are the values of that first call; later calls
    pass their own to the `LayerCall` the backend returns.
    """

    block_key: str
    layer_key: str
    candidates: CandidateTable
    fixed_inputs: list[Any]
    optional_inputs: Mapping[str, Any]
    optional_input_size: int | Sequence[int]
    mode: str
    owner: Any
    framework: str | None

    @property
    def labels(self) -> tuple[str, ...]:
        """The candidates' labels, in the order the code lists them."""
        return tuple(self.candidates)

    @property
    def input_labels(self) -> tuple[str, ...]:
        """The optional inputs' labels, in the order the code lists them."""
        return tuple(self.optional_inputs)

    @property
    def where(self) -> str:
        """`<block key>/<layer key>`, the layer's name in messages."""
        return f"{self.block_key}/{self.layer_key}"


class LayerBackend:
    """What a `mutable_layer` call does in one (framework, mode); see the `nasctl.runtime.modes` docstring.

    A trial makes one instance per registry entry with `for_trial(context)`; a test may make one by
    hand, `Backend(options, seed=...)`, and drive it without a trial. Subclasses implement `resolve`;
    the other methods have the documented default.
    """

    #: The framework this backend serves (None: any) and its mode; class attributes of each backend.
    framework: ClassVar[str | None] = None
    mode: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.seed = seed
        #: The trial this backend serves; None when a test drives it by hand.
        self.context: TrialHost | None = None
        #: The architecture (classic) or subgraph (enas) last set; None before one.
        self.architecture: Architecture | None = None

    @classmethod
    def for_trial(cls, context: TrialHost) -> LayerBackend:
        """The backend of a trial: made with the mode's options and the trial's seed, then `attach`ed."""
        backend = cls(context.mode_options(cls.mode), seed=context.platform.seed)
        backend.attach(context)
        return backend

    def attach(self, context: TrialHost) -> None:
        """Serve `context`: connect to its hooks, and run its architecture if it has one already."""
        self.context = context
        if context.parameters:
            self.set_architecture(context.parameters)

    def resolve(self, layer: LayerRequest) -> LayerCall:
        """Build what one layer needs (candidate instances, weights) and return its per-call function.

        Called once per (owner, block key, layer key) and again after the trial receives new
        parameters. The returned function is the whole per-call path, so keep it to a lookup and
        the candidate call.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement resolve()")

    def set_architecture(self, architecture: Mapping[str, Any]) -> None:
        """The trial received a parameter set: the architecture to run (classic), the next subgraph
        (enas); the modes that train a supernet keep it as the trial's parameters."""
        self.architecture = dict(architecture)

    def arch_parameters(self) -> list[Any]:
        """The architecture weights (darts); empty in the modes without any."""
        return []

    def derived_architecture(self) -> Architecture | None:
        """The architecture this backend derived so far, in the format of DESIGN.md §3; None while
        there is none to report (no layer ran, oneshot before `derive`, classic: never)."""
        return None

    def training_update(self, **kwargs: Any) -> None:
        """`nas.training_update(**kwargs)`: a step of the mode's own training (enas, darts)."""

    def on_final_result(self, value: Any) -> None:
        """The trial reported a final result (enas: the reward of the current subgraph)."""

    def close(self) -> None:
        """The trial context is closing: release hooks and resources."""


#: The contract's methods, in the order a trial calls them (the backend kit checks each backend has them).
CONTRACT = ("for_trial", "resolve", "set_architecture", "training_update", "arch_parameters",
            "derived_architecture", "on_final_result", "close")


class FrameworkBackend(LayerBackend):
    """What the torch and TensorFlow base classes share: the hooks, the layers' specs, the registry.

    Hooks a trial sets on `attach` (a test sets them by hand), all optional: `reporter(value)` sends
    the architecture weights (an `arch_weights` metric), `fetch_parameters()` asks for the next
    parameters (enas), `report_architecture(arch)` sends a derived architecture (`finish`).
    """

    #: What holds the candidates without an owner (`nas.candidates()`).
    registry_factory: ClassVar[Callable[[], MutableMapping[str, Any]]] = dict
    #: The `training_update` keyword arguments the framework's modes take.
    update_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self.rng = random.Random(seed)
        self.registry = self.registry_factory()
        self.reporter: Callable[[Any], None] | None = None
        self.report_architecture: Callable[[Architecture], None] | None = None
        self.fetch_parameters: Callable[[], Mapping[str, Any] | None] | None = None
        self.specs: dict[tuple[str, str], LayerSpec] = {}

    def layer(
        self,
        block_key: str,
        layer_key: str,
        candidates: CandidateTable,
        fixed_inputs: Sequence[Any],
        optional_inputs: Mapping[str, Any],
        optional_input_size: int | Sequence[int],
        owner: Any = None,
    ) -> Any:
        """Run one mutable layer without a trial (a test): `resolve` it, then call what it returns;
        arguments as in docs/internals.md, "A layer"."""
        fixed = list(fixed_inputs)
        request = LayerRequest(block_key, layer_key, candidates, fixed, optional_inputs, optional_input_size,
                               self.mode, owner, self.framework)
        return self.resolve(request)(candidates, fixed, optional_inputs)

    def attach(self, context: TrialHost) -> None:
        self.registry = context.candidate_registry(self.framework, self.registry_factory)
        self.reporter = context.report_arch_weights
        self.fetch_parameters = context.get_next_parameter
        super().attach(context)

    def check_update(self, kwargs: Mapping[str, Any], who: str) -> None:
        """Refuse `training_update` keyword arguments outside `update_keys`; `who` names the mode."""
        unknown = sorted(set(kwargs) - self.update_keys)
        if unknown:
            raise TrialError(f"{who}: training_update() got unknown argument(s) {', '.join(unknown)}; "
                             f"it takes {', '.join(sorted(self.update_keys))}")

    def finish(self) -> Architecture | None:
        """Derive the architecture and send it through `report_architecture`; returns it (None if none)."""
        arch = self.derived_architecture()
        if arch is not None and self.report_architecture is not None:
            self.report_architecture(arch)
        return arch
