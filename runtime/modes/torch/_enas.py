"""enas mode for PyTorch (Pham et al. 2018): one shared supernet, one subgraph per step.

Every candidate is built once and keeps its weights across subgraphs. A forward runs only the current
subgraph: each layer's chosen candidate on its chosen inputs (exactly what classic mode would run).
`training_update()` asks for the next subgraph through `fetch_parameters` (one more parameter request
of the same trial: the dispatcher answers with the ENAS controller's next sample), and the next
`report_final_result(value)` is that subgraph's reward (`on_final_result`). Before the first
`training_update()` the first forward fetches a subgraph itself.

So that one script serves every mode, `training_update(loss=val_loss)` (the darts line) also works
here: when the runtime sets the `report_reward` hook (to `report_final_result`), `-loss` is reported
as the reward of the subgraph that just ran, then the next one is fetched. Without the hook, or
without `loss`, the script reports rewards itself.

The derived architecture is decided on the trial side: the subgraph with the best mean reward among
the last `window` rewarded steps (counting only subgraphs seen at least twice there, when any is, so
one lucky batch does not decide). The controller's own most likely architecture is available on the
tuner side as `ENASTuner.best_architecture()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nasctl.runtime._host import TrialHost
from nasctl.runtime.modes._enas import EnasSubgraphs
from nasctl.runtime.modes._spec import LayerSpec
from nasctl.runtime.modes.torch._backend import TorchOneShotBackend
from nasctl.runtime.modes.torch._layer import LayerCandidates


class EnasBackend(EnasSubgraphs, TorchOneShotBackend):
    """The enas mode; see the module docstring."""

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self._choice: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        self.report_reward: Callable[[float], None] | None = None

    def attach(self, context: TrialHost) -> None:
        super().attach(context)
        self.report_reward = context.report_final_result

    def set_architecture(self, architecture: Mapping[str, Any]) -> None:
        """Run `architecture` from the next forward on (each layer is checked when it next runs)."""
        super().set_architecture(architecture)
        self._choice = {}

    def _decoded(self, spec: LayerSpec) -> tuple[int, tuple[int, ...]]:
        key = (spec.block_key, spec.layer_key)
        choice = self._choice.get(key)
        if choice is None:
            if self.architecture is None:
                self.next_subgraph()
            assert self.architecture is not None
            choice = self._choice[key] = spec.decode(self.architecture)
        return choice

    def _forward_impl(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        index, inputs = self._decoded(layer.spec)
        chosen = [optional[i] for i in inputs]
        layer.materialize(fixed, chosen)
        return layer.call(index, fixed, chosen)

    def value_weights(self, spec: Any, like: Any, training: bool) -> int:
        """A relaxed variable: its option in the current subgraph (a slice of the shared weight)."""
        return self._decoded(spec)[0]

    def _training_update_impl(self, loss: Any = None, **_ignored: Any) -> None:
        if loss is not None and self.report_reward is not None and self.architecture is not None:
            value = loss() if callable(loss) else loss
            self.report_reward(-float(value.detach() if hasattr(value, "detach") else value))  # reward = -loss
        self.next_subgraph()

