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

from dataclasses import dataclass
from typing import Any

import tensorflow as tf
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._enas import EnasSubgraphs
from nasctl.runtime.modes._spec import Architecture, LayerSpec
from nasctl.runtime.modes.tensorflow._backend import Layer, Signal, TensorFlowBackend, run_subgraph


@dataclass
class _EnasLayer:
    spec: LayerSpec
    signal: Signal
    built: bool = False


class EnasBackend(EnasSubgraphs, TensorFlowBackend):
    """The enas mode; see the module docstring."""

    def _new_layer_impl(self, layer: Layer) -> _EnasLayer:
        spec = layer.spec
        if self.architecture is None:
            self.next_subgraph()
        assert self.architecture is not None
        initial = spec.subgraph_index(*spec.decode(self.architecture))
        return _EnasLayer(spec, Signal(layer.style, layer.scope + "_subgraph", initial))

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
        self.next_subgraph()
        if session is not None:
            for state in self.graph_states(session):
                state.signal.load(session)


def _first_subgraph_per_candidate(spec: LayerSpec) -> list[tuple[int, tuple[int, ...]]]:
    seen: dict[int, tuple[int, ...]] = {}
    for candidate, subset in spec.subgraphs:
        seen.setdefault(candidate, subset)
    return sorted(seen.items())
