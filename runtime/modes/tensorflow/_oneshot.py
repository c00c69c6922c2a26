"""oneshot mode for TensorFlow: the whole supernet trains; an architecture is searched afterwards.

- `strategy: dropout` (default; Bender et al. 2018, NNI's oneshot_mode): every optional input and then
  every candidate output is kept with probability `1 - r**(1/k)` (k inputs, or k candidates), kept
  paths scaled by `1 / (1 - rate)` as `tf.nn.dropout` does, and the candidate outputs summed. The
  probability that all k paths drop is `r`. One draw per path and step, shared by the batch. The torch
  backend follows the same rule (`nasctl.runtime.modes.torch._oneshot` says why).
- `strategy: single_path` (SPOS): each step runs one uniformly sampled subgraph (candidate and input
  subset) of each layer.
- Outside training (keras: `training=False`; graph: feed `nas_training` False) every candidate runs:
  dropout sums them, nothing dropped or scaled; single_path takes their mean, each optional input
  scaled by its chance of being chosen (as the torch backend). A Keras call without a `training` flag
  is a training call.
- `derive(evaluate)` (`nas.derive_architecture(evaluate)`): evaluates sampled subgraphs on the
  shared weights (`search: random`, `budget` distinct ones, or `evolution`; the search is
  `nasctl.runtime.modes._spec.search_architecture`, shared with the torch backend) and keeps the best; while
  a candidate architecture is evaluated, each layer's `fixed` signal selects its subgraph (so it works inside `tf.function` and in
  a session too). In Keras, `evaluate()` must call the model with `training=False`; `derive` checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes._options import OneShotOptions
from nasctl.runtime.modes._spec import (
    Architecture,
    LayerSpec,
    checked_score,
    drop_rate,
    kept_scale,
    search_architecture,
)
from nasctl.runtime.modes.tensorflow._backend import (
    GRAPH,
    Layer,
    Signal,
    TensorFlowBackend,
    graph_training_flag,
    keras_training,
    run_subgraph,
)


@dataclass
class _OneShotLayer:
    spec: LayerSpec
    fixed: Signal  # -1: the supernet; otherwise the subgraph to run (while deriving)
    seed: int


class OneShotBackend(TensorFlowBackend):
    """The oneshot mode; see the module docstring."""

    mode = "oneshot"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 architecture: Architecture | None = None) -> None:
        self.config = OneShotOptions.parse(options)
        if self.config.strategy not in ("dropout", "single_path"):
            raise ConfigError(f"strategy {self.config.strategy!r} is implemented for PyTorch only; TensorFlow "
                              "trials use 'dropout' or 'single_path'", "oneshot.strategy")
        if self.config.max_params is not None:
            raise ConfigError("the TensorFlow backend does not offer a parameter budget yet (PyTorch does)",
                              "oneshot.max_params")
        self._derived: Architecture | None = None
        self._fixed_runs: tf.Variable | None = None
        super().__init__(options, seed=seed, architecture=architecture)

    def _new_layer_impl(self, layer: Layer) -> _OneShotLayer:
        return _OneShotLayer(layer.spec, Signal(layer.style, layer.scope + "_fixed", -1),
                             self.rng.randrange(2**31))

    # -- forward ------------------------------------------------------------------------------------

    def _forward_impl(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        state: _OneShotLayer = self.states[self.state_key(layer)]
        layer.build_all()
        layer.prebuild(fixed, optional)
        training = graph_training_flag() if layer.style == GRAPH else keras_training()
        if training is True:
            # A keras training step trains the supernet; only an inference call (training=False) can run
            # a fixed subgraph, which keeps the traced training step small.
            return self._supernet(layer, state, fixed, optional, training)
        chosen = state.fixed.value()
        if tf.executing_eagerly():
            index = int(chosen)
            if index < 0:
                return self._supernet(layer, state, fixed, optional, training)
            self._count_fixed_run()
            return run_subgraph(layer, index, fixed, optional)
        return tf.cond(
            chosen >= 0,
            lambda: self._fixed_path(layer, tf.maximum(chosen, 0), fixed, optional),
            lambda: self._supernet(layer, state, fixed, optional, training),
        )

    def _fixed_path(self, layer: Layer, index: tf.Tensor, fixed: list[Any], optional: list[Any]) -> Any:
        out = run_subgraph(layer, index, fixed, optional)
        if layer.style == GRAPH:
            return out
        with tf.control_dependencies([self._count_fixed_run()]):
            return tf.identity(out)

    def _fixed_counter(self) -> tf.Variable:
        if self._fixed_runs is None:
            with tf.init_scope():
                self._fixed_runs = tf.Variable(0, dtype=tf.int64, trainable=False, name="nas_fixed_runs")
        return self._fixed_runs

    def _count_fixed_run(self) -> Any:
        """Keras style: count the calls that ran a fixed subgraph, so `derive` can tell that
        `evaluate()` really ran the architecture it scores."""
        return self._fixed_counter().assign_add(1)

    def _supernet(self, layer: Layer, state: _OneShotLayer, fixed: list[Any], optional: list[Any],
                  training: Any) -> Any:
        if self.config.strategy == "dropout":
            return self._dropout(layer, state, fixed, optional, training)
        if training is False:
            return self._expected(layer, fixed, optional)

        def sampled() -> Any:
            return run_subgraph(layer, self._random_index(layer, state, len(layer.spec.subgraphs)), fixed, optional)

        if training is True:
            return sampled()
        return tf.cond(training, sampled, lambda: self._expected(layer, fixed, optional))

    def _expected(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        """single_path outside training, as the torch backend: the mean of the candidates, each optional
        input scaled by its chance of being chosen, `(low + high) / 2 / k`."""
        spec = layer.spec
        chosen: list[Any] = []
        if spec.input_high > 0:
            keep = tf.constant((spec.input_low + spec.input_high) / 2 / len(optional))
            chosen = [_scaled(keep, x) for x in optional]
        total = layer.call(0, fixed, chosen)
        for i in range(1, len(spec.labels)):
            total = total + layer.call(i, fixed, chosen)
        return _scaled(tf.constant(1.0 / len(spec.labels)), total)

    def _dropout(self, layer: Layer, state: _OneShotLayer, fixed: list[Any], optional: list[Any],
                 training: Any) -> Any:
        spec = layer.spec
        chosen: list[Any] = []
        if spec.input_high > 0:
            keep = self._keep(layer, state, len(optional), training, salt=0)
            chosen = [_scaled(keep[j], x) for j, x in enumerate(optional)]
        outputs = [layer.call(i, fixed, chosen) for i in range(len(spec.labels))]
        keep = self._keep(layer, state, len(outputs), training, salt=1)
        total = _scaled(keep[0], outputs[0])
        for j in range(1, len(outputs)):
            total = total + _scaled(keep[j], outputs[j])
        return total

    def _uniform(self, layer: Layer, state: _OneShotLayer, shape: list[int], salt: int, **kwargs: Any) -> tf.Tensor:
        if layer.style == GRAPH:
            return tf.random.uniform(shape, seed=state.seed + salt, **kwargs)
        return self.generator.uniform(shape, **kwargs)

    def _keep(self, layer: Layer, state: _OneShotLayer, k: int, training: Any, salt: int) -> tf.Tensor:
        """`k` scale factors: 0 (dropped, rate `r**(1/k)`) or `1 / (1 - rate)` when training; else 1."""
        if training is False:
            return tf.ones([k])
        rate = drop_rate(self.config.r, k)
        u = self._uniform(layer, state, [k], salt)
        keep = tf.cast(u >= rate, tf.float32) * kept_scale(rate)
        if training is True:
            return keep
        return tf.where(training, keep, tf.ones([k]))

    def _random_index(self, layer: Layer, state: _OneShotLayer, count: int) -> Any:
        if tf.executing_eagerly():
            return self.rng.randrange(count)
        return self._uniform(layer, state, [], 2, minval=0, maxval=count, dtype=tf.int32)

    # -- deriving the architecture ------------------------------------------------------------------

    def fix(self, architecture: Mapping[str, Any] | None, session: Any = None) -> None:
        """Make every layer run `architecture`'s subgraph (None: back to the supernet)."""
        graph = any(key[0] is not None for key in self.states)
        if graph:
            session = self.need_session(session, "fixing an architecture")
        for key, state in self.states.items():
            spec = state.spec
            index = -1 if architecture is None else spec.subgraph_index(*spec.decode(architecture))
            state.fixed.set(index, session if key[0] is not None else None)

    def _fixed_runs_value(self) -> int | None:
        if not any(key[0] is None for key in self.states):
            return None  # graph style: the session always runs the fixed subgraph
        return int(self._fixed_counter().numpy())

    def derive(self, evaluate: Callable[[], float], budget: int | None = None, search: str | None = None, *,
               maximize: bool | None = None, session: Any = None) -> Architecture:
        """Search the trained supernet: `evaluate()` scores the architecture in force (a number).

        Scores `budget` (default `oneshot.budget`) distinct sampled architectures (`search: random`) or runs
        regularized evolution (`search: evolution`, `population`, `sample_size`), keeps the best (higher
        is better unless `optimize_mode: minimize` or `maximize=False`) and returns it;
        `derived_architecture()` returns it afterwards. Graph style needs the session.
        """
        specs = list(self.specs.values())
        fixed: list[Architecture] = []

        def score(arch: Architecture) -> Any:
            fixed.append(arch)
            self.fix(arch, session)
            runs = self._fixed_runs_value()
            value = checked_score(evaluate())
            if runs is not None and self._fixed_runs_value() == runs:
                raise TrialError(
                    "derive_architecture(): evaluate() did not run the fixed architecture; in Keras, "
                    "call the model with training=False inside evaluate() (a training call trains the "
                    "supernet)"
                )
            return value

        try:
            self._derived = search_architecture(
                specs, score,
                budget=self.config.budget if budget is None else budget,
                search=self.config.search if search is None else search,
                maximize=self.config.optimize_mode == "maximize" if maximize is None else maximize,
                rng=self.rng, population=self.config.population, sample_size=self.config.sample_size,
            )[0]
        finally:
            if fixed:
                self.fix(None, session)
        return self._derived

    @property
    def derived(self) -> Architecture | None:
        """The architecture `derive(evaluate)` found, None before it ran."""
        return self._derived

    def derived_architecture(self) -> Architecture | None:
        """The architecture `derive(evaluate)` found; None before any derivation (a trial that never
        called `nas.derive_architecture(evaluate)` reports no architecture: there is nothing to rank by)."""
        return self._derived


def _scaled(weight: Any, value: Any) -> Any:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype != weight.dtype:
        weight = tf.cast(weight, dtype)
    return weight * value
