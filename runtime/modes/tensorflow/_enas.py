"""enas mode for TensorFlow: every candidate built and sharing weights, one subgraph run per step.

Each layer has a signal (`Signal`, a non-trainable int variable) holding the number of the subgraph
to run (`LayerSpec.subgraphs`: a candidate and an input subset). keras style reads it in Python when
eager and through `tf.switch_case` inside `tf.function`; graph style always builds the `switch_case`,
so the session runs the selected branch only. `training_update()` (graph style:
`training_update(tf=tf, session=sess)`, NNI's form) asks for the next subgraph through
`fetch_parameters` and loads it into the signals; a result reported after it is that subgraph's reward
(`on_final_result`). The first layer fetches a subgraph itself when none was received yet.

Must be called outside `tf.function`: fetching a subgraph is a message to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._options import EnasOptions
from nasctl.runtime.modes._spec import Architecture, LayerSpec, RewardWindow, fetch_subgraph
from nasctl.runtime.modes.tensorflow._backend import Layer, Signal, TensorFlowBackend, run_subgraph


@dataclass
class _EnasLayer:
    spec: LayerSpec
    signal: Signal
    built: bool = False


class EnasBackend(TensorFlowBackend):
    """The enas mode; see the module docstring."""

    mode = "enas"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 architecture: Architecture | None = None) -> None:
        self.config = EnasOptions.parse(options)
        self._rewards = RewardWindow(self.config.window, self.config.optimize_mode)
        self.exhausted = False
        super().__init__(options, seed=seed, architecture=architecture)

    def _new_layer_impl(self, layer: Layer) -> _EnasLayer:
        spec = layer.spec
        if self.architecture is None:
            self._next()
        assert self.architecture is not None
        initial = spec.subgraph_index(*spec.decode(self.architecture))
        return _EnasLayer(spec, Signal(layer.style, layer.scope + "_subgraph", initial))

    def _next(self) -> None:
        parameters = fetch_subgraph(self.fetch_parameters, self.architecture is not None)
        if parameters is None:
            self.exhausted = True
            return
        self.set_architecture(parameters)

    def _forward_impl(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        state: _EnasLayer = self.states[self.state_key(layer)]
        layer.build_all()
        layer.prebuild(fixed, optional)
        if tf.executing_eagerly() and not state.built:
            # Every candidate builds its weights now, so an optimizer made after this first step
            # sees them all even though one step runs a single subgraph.
            for candidate, subset in _first_subgraph_per_candidate(layer.spec):
                layer.call(candidate, fixed, [optional[i] for i in subset])
        state.built = True
        return run_subgraph(layer, state.signal.value(), fixed, optional)

    def _architecture_impl(self, architecture: Architecture) -> None:
        for state in self.states.values():
            spec = state.spec
            state.signal.set(spec.subgraph_index(*spec.decode(architecture)))

    def _training_update_impl(self, session: Any = None, **_ignored: Any) -> None:
        if tf.inside_function() and any(key[0] is None for key in self.states):
            raise TrialError(
                "enas mode: call training_update() outside tf.function (it fetches the next subgraph)"
            )
        graph_layers = any(key[0] is not None for key in self.states)
        if graph_layers:
            session = self.need_session(session, "loading the next subgraph")
        self._next()
        if session is not None:
            for state in self.graph_states(session):
                state.signal.load(session)

    def on_final_result(self, value: Any) -> None:
        """Record `value` as the reward of the subgraph that ran."""
        if self.architecture is not None:
            self._rewards.add(self._layers_only(self.architecture), value)

    def _layers_only(self, arch: Mapping[str, Any]) -> Architecture:
        blocks = {spec.block_key for spec in self.specs.values()}
        return {key: value for key, value in arch.items() if key in blocks}

    def derived_architecture(self) -> Architecture:
        """The best subgraph by mean reward over the last `window` rewards, counting only subgraphs seen
        at least twice there when any is (`RewardWindow`, as the torch backend); with no reward, the
        current one."""
        best = self._rewards.best()
        if best is not None:
            return best
        if self.architecture is None:
            raise TrialError("enas mode: no subgraph has run yet, so there is no architecture to derive")
        return self._layers_only(self.architecture)


def _first_subgraph_per_candidate(spec: LayerSpec) -> list[tuple[int, tuple[int, ...]]]:
    seen: dict[int, tuple[int, ...]] = {}
    for candidate, subset in spec.subgraphs:
        seen.setdefault(candidate, subset)
    return sorted(seen.items())
