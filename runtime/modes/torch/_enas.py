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

from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._options import EnasOptions
from nasctl.runtime.modes._spec import Architecture, RewardWindow, fetch_subgraph
from nasctl.runtime.modes.torch._backend import TorchOneShotBackend
from nasctl.runtime.modes.torch._layer import LayerCandidates


class EnasBackend(TorchOneShotBackend):
    """The enas mode; see the module docstring."""

    mode = "enas"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self.config = EnasOptions.parse(options)
        self.current: Architecture | None = None
        self._choice: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        self._rewards = RewardWindow(self.config.window, self.config.optimize_mode)
        self.exhausted = False
        self.report_reward: Callable[[float], None] | None = None

    def set_architecture(self, architecture: Mapping[str, Any]) -> None:
        """Run `architecture` from the next forward on (each layer is checked when it next runs)."""
        self.current = dict(architecture)
        self._choice = {}

    def _next(self) -> None:
        parameters = fetch_subgraph(self.fetch_parameters, self.current is not None)
        if parameters is None:
            self.exhausted = True
            return
        self.set_architecture(parameters)

    def _forward_impl(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        key = (spec.block_key, spec.layer_key)
        choice = self._choice.get(key)
        if choice is None:
            if self.current is None:
                self._next()
            assert self.current is not None
            choice = self._choice[key] = spec.decode(self.current)
        index, inputs = choice
        chosen = [optional[i] for i in inputs]
        layer.materialize(fixed, chosen)
        return layer.call(index, fixed, chosen)

    def value_weights(self, spec: Any, like: Any, training: bool) -> int:
        """A relaxed variable: its option in the current subgraph (a slice of the shared weight)."""
        key = (spec.block_key, spec.layer_key)
        choice = self._choice.get(key)
        if choice is None:
            if self.current is None:
                self._next()
            assert self.current is not None
            choice = self._choice[key] = spec.decode(self.current)
        return choice[0]

    def _training_update_impl(self, loss: Any = None, **_ignored: Any) -> None:
        if loss is not None and self.report_reward is not None and self.current is not None:
            value = loss() if callable(loss) else loss
            self.report_reward(-float(value.detach() if hasattr(value, "detach") else value))  # reward = -loss
        self._next()

    def on_final_result(self, value: Any) -> None:
        """Record `value` as the reward of the current subgraph."""
        if self.current is not None:
            self._rewards.add(self._architecture_part(self.current), value)

    def _architecture_part(self, parameters: Mapping[str, Any]) -> Architecture:
        blocks = {block for block, _ in self.specs}
        return {key: value for key, value in parameters.items() if key in blocks}

    def derived_architecture(self) -> Architecture:
        """The best subgraph by mean reward over the last `window` rewards (see the module docstring)."""
        best = self._rewards.best()
        if best is not None:
            return best
        if self.current is None:
            raise TrialError("enas mode: no subgraph has run yet, so there is no architecture to derive")
        return self._architecture_part(self.current)


def attach_tuner(backend: EnasBackend, tuner: Any, search_space: Mapping[str, Any]) -> Callable[[Any], None]:
    """Drive `backend` from a tuner in this process (standalone trials, tests): `fetch_parameters` asks
    `tuner.generate_parameters`, and the returned callable passes a reward to `receive_trial_result`.

    The runtime calls the returned function after each `report_final_result(value)` (as the dispatcher
    would), together with `backend.on_final_result(value)`.
    """
    tuner.update_search_space(dict(search_space))
    state: dict[str, Any] = {"next_id": 0, "current": None}

    def fetch() -> Mapping[str, Any] | None:
        from nasctl.tuners import NoMoreTrialError

        parameter_id = state["next_id"]
        state["next_id"] += 1
        try:
            parameters = tuner.generate_parameters(parameter_id)
        except NoMoreTrialError:
            return None
        state["current"] = (parameter_id, parameters)
        return parameters

    def reward(value: Any) -> None:
        if state["current"] is not None:
            parameter_id, parameters = state["current"]
            tuner.receive_trial_result(parameter_id, parameters, value)
        backend.on_final_result(value)

    backend.fetch_parameters = fetch
    return reward
