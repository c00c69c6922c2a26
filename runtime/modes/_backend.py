"""The interface every layer backend implements, and the per-layer description it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasctl.runtime.trial._context import TrialContext

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

    One instance per trial context and registry entry. Subclasses implement `resolve`; the other
    methods are hooks that do nothing by default.
    """

    #: The framework this backend serves (None: any) and its mode; class attributes of each backend.
    framework: str | None = None
    mode: str = ""

    def __init__(self, context: TrialContext) -> None:
        self.context = context

    def resolve(self, layer: LayerRequest) -> LayerCall:
        """Build what one layer needs (candidate instances, weights) and return its per-call function.

        Called once per (owner, block key, layer key) and again after the trial receives new
        parameters. The returned function is the whole per-call path, so keep it to a lookup and
        the candidate call.
        """
        raise NotImplementedError

    def on_parameters(self, parameters: dict[str, Any]) -> None:
        """The trial received a new parameter set (a new architecture or subgraph)."""

    def training_update(self, **kwargs: Any) -> None:
        """`nas.training_update(**kwargs)`: a step of the mode's own training (enas, darts)."""

    def on_final_result(self, value: Any) -> None:
        """The trial reported a final result (enas: the reward of the current subgraph)."""

    def derive_architecture(self) -> dict[str, Any] | None:
        """The architecture this backend derived, reported with the final result; None: nothing."""
        return None

    def close(self) -> None:
        """The trial context is closing: release hooks and resources."""
