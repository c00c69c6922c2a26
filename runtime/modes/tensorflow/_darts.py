"""darts mode for TensorFlow: softmax-mixed layers and their architecture optimizer (first order).

The mathematics is that of the torch backend (`nasctl.runtime.modes.torch._darts`):

- forward: `sum_i softmax(alpha)_i * op_i([fixed, [sigmoid(beta_j) * x_j]_j])`. `sampler: gumbel`
  samples Gumbel-softmax weights and binary-concrete gates while training, with the temperature
  annealed exponentially from `temperature[0]` to `temperature[1]` over `anneal_steps` architecture
  steps; the temperature is computed from the step counter inside the graph, so `tf.function` and
  sessions see it change.
- the architecture step: Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3 added to the gradient
  as torch does) on `loss + complexity.weight * sum_layers sum_i softmax(alpha)_i * params(op_i)`.
- derived architecture: argmax of `alpha`; the inputs with gate above 0.5, clamped to the size range.

Where the architecture weights live, apart from the model's:

- keras style: `tf.Variable`s held by this backend, not tracked by any layer, so they are not in
  `model.trainable_variables`. `training_update(loss=...)` takes a callable returning the loss (its
  gradient is taken on a tape here), or the loss with the `tape=` that recorded it (the tape must be
  persistent if the script also takes the model's gradient from it), or, inside `tf.function`, the loss
  tensor itself.
- graph style: variables in the collections GLOBAL_VARIABLES and `nas_architecture_weights`, not in
  TRAINABLE_VARIABLES, so a user's `optimizer.minimize(loss)` never touches them;
  `training_update(session=sess, loss=val_loss, feed_dict={...})` runs the architecture step on them
  only (the update op is built once per loss tensor).

`darts: {order: 2}` is not offered by the TensorFlow backend, nor (yet) the options that came with
`nas.nn` for PyTorch: `per_example`, `hard`, a temperature per epoch, `optimizer.name: sgd`, `warmup`, and
complexity metrics other than `params` or the `log` form, alpha(lambda) (`complexity.hypernet`); each is
a `ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes._options import DartsOptions
from nasctl.runtime.modes._spec import Architecture, LayerSpec, remember_spec, top_inputs
from nasctl.runtime.modes.tensorflow._backend import (
    ARCH_COLLECTION,
    GRAPH,
    KERAS,
    Layer,
    TensorFlowBackend,
    graph_training_flag,
    keras_training,
    v1,
)

_EPSILON = 1e-8


@dataclass
class _DartsLayer:
    spec: LayerSpec
    style: str
    alpha: tf.Variable
    beta: tf.Variable | None
    layer: Layer
    counts: list[int] | None = None


@dataclass
class _Optimizer:
    """Adam's state for one set of architecture weights (a graph, or the keras-style weights)."""

    step: tf.Variable
    slots: dict[int, tuple[tf.Variable, tf.Variable]] = field(default_factory=dict)
    ops: dict[Any, Any] = field(default_factory=dict)  # graph style: loss tensor -> (update op, total)


class DartsBackend(TensorFlowBackend):
    """The darts mode; see the module docstring."""

    mode = "darts"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 architecture: Architecture | None = None) -> None:
        self.config = DartsOptions.parse(options)
        if self.config.order != 1:
            raise ConfigError("the TensorFlow backend offers first-order darts only; use order: 1", "darts.order")
        _check_torch_only(self.config)
        self._gumbel = self.config.sampler == "gumbel"
        self._optimizers: dict[Any, _Optimizer] = {}
        self._last_values: dict[Any, list[tuple[list[float], list[float]]]] = {}
        self.steps = 0
        super().__init__(options, seed=seed, architecture=architecture)

    # -- variables ----------------------------------------------------------------------------------

    def _variable(self, style: str, name: str, initial: np.ndarray, dtype: Any = tf.float32) -> tf.Variable:
        if style == KERAS:
            with tf.init_scope():
                return tf.Variable(initial, dtype=dtype, trainable=True, name=name)
        return v1.get_variable(
            name, shape=initial.shape, dtype=dtype, initializer=v1.constant_initializer(initial),
            trainable=False, collections=[v1.GraphKeys.GLOBAL_VARIABLES, ARCH_COLLECTION], use_resource=True,
        )

    def _new_layer_impl(self, layer: Layer) -> _DartsLayer:
        spec = layer.spec
        rng = np.random.default_rng(self.rng.randrange(2**32))
        alpha = self._variable(layer.style, f"{layer.scope}_alpha", 1e-3 * rng.standard_normal(len(spec.labels)))
        beta = None
        if spec.input_high > 0 and spec.input_low < len(spec.input_labels):
            beta = self._variable(layer.style, f"{layer.scope}_beta",
                                  1e-3 * rng.standard_normal(len(spec.input_labels)))
        return _DartsLayer(spec, layer.style, alpha, beta, layer)

    def _optimizer(self, context: Any) -> _Optimizer:
        found = self._optimizers.get(context)
        if found is None:
            if context is None:
                with tf.init_scope():
                    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="nas_darts_step")
            else:
                with context.as_default():
                    step = v1.get_variable("nas/darts_step", shape=[], dtype=tf.int64,
                                           initializer=v1.zeros_initializer(), trainable=False,
                                           collections=[v1.GraphKeys.GLOBAL_VARIABLES], use_resource=True)
            found = self._optimizers[context] = _Optimizer(step)
        return found

    # -- relaxed variables (keras style) ------------------------------------------------------------

    def value_choice(self, key: str, labels: Any) -> LayerSpec:
        """Register the relaxed `choice` variable `key` (`architectural=True`): its own `alpha`."""
        spec = LayerSpec.of_value(key, tuple(labels))
        remember_spec(self.specs, spec)
        state_key = (None, spec.block_key, spec.layer_key)
        if state_key not in self.states:
            if not v1.executing_eagerly_outside_functions():
                raise TrialError(f"choice '{key}' (architectural=True): the TensorFlow backend relaxes "
                                 "choices in Keras (eager) code, not in tf.compat.v1 graphs")
            rng = np.random.default_rng(self.rng.randrange(2**32))
            name = "".join(c if c.isalnum() else "_" for c in key)
            alpha = self._variable(KERAS, f"{name}_alpha", 1e-3 * rng.standard_normal(len(spec.labels)))
            self.states[state_key] = _DartsLayer(spec, KERAS, alpha, None, None)  # type: ignore[arg-type]
        return spec

    def value_weights(self, spec: LayerSpec, like: Any, training: bool | None) -> tf.Tensor:
        """`softmax(alpha)` of a relaxed variable, or its Gumbel sample in a training call."""
        state = self.states[(None, spec.block_key, spec.layer_key)]
        sample = self._gumbel and (keras_training() if training is None else training)
        return self._mix(state, None, sample)

    @staticmethod
    def mix_values(weights: tf.Tensor, outputs: list[Any]) -> Any:
        """`sum_k w_k * outputs_k`."""
        total: Any = None
        for k, out in enumerate(outputs):
            term = _scaled(weights[k], out)
            total = term if total is None else total + term
        return total

    # -- forward ------------------------------------------------------------------------------------

    def temperature(self, context: Any = None) -> tf.Tensor:
        """`tau = start * (end / start) ** (min(step, anneal_steps) / anneal_steps)`, from the step counter."""
        start, end = self.config.temperature
        step = tf.cast(self._optimizer(context).step, tf.float32)
        progress = tf.minimum(step, float(self.config.anneal_steps)) / float(self.config.anneal_steps)
        return start * tf.pow(end / start, progress)

    def _forward_impl(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        key = self.state_key(layer)
        state: _DartsLayer = self.states[key]
        spec = layer.spec
        layer.build_all()
        training = graph_training_flag() if layer.style == GRAPH else keras_training()
        sample: Any = self._gumbel and training
        if spec.input_high == 0:
            chosen: list[Any] = []
        elif state.beta is None:
            chosen = optional
        else:
            gates = self._gates(state, key[0], sample)
            chosen = [_scaled(gates[j], x) for j, x in enumerate(optional)]
        mix = self._mix(state, key[0], sample)
        total = None
        for i in range(len(spec.labels)):
            term = _scaled(mix[i], layer.call(i, fixed, chosen))
            total = term if total is None else total + term
        return total

    def _noise(self, state: _DartsLayer, shape: tf.TensorShape) -> tf.Tensor:
        if state.style == GRAPH:
            u = tf.random.uniform(shape, seed=self.rng.randrange(2**31))
        else:
            u = self.generator.uniform(shape)
        return tf.clip_by_value(u, 1e-10, 1.0 - 1e-7)

    def _mix(self, state: _DartsLayer, context: Any, sample: Any) -> tf.Tensor:
        plain = tf.nn.softmax(state.alpha)
        if sample is False:
            return plain
        u = self._noise(state, state.alpha.shape)
        gumbel = -tf.math.log(-tf.math.log(u))  # g = -log(-log U)
        sampled = tf.nn.softmax((state.alpha + gumbel) / self.temperature(context))  # softmax((alpha + g) / tau)
        return sampled if sample is True else tf.where(sample, sampled, plain)

    def _gates(self, state: _DartsLayer, context: Any, sample: Any) -> tf.Tensor:
        plain = tf.sigmoid(state.beta)
        if sample is False:
            return plain
        u = self._noise(state, state.beta.shape)
        logistic = tf.math.log(u) - tf.math.log1p(-u)  # binary concrete: sigmoid((beta + L) / tau)
        sampled = tf.sigmoid((state.beta + logistic) / self.temperature(context))
        return sampled if sample is True else tf.where(sample, sampled, plain)

    # -- the architecture step ----------------------------------------------------------------------

    def arch_parameters(self) -> list[tf.Variable]:
        """Every layer's `alpha` and `beta` (keras and graph style), in the order the layers first ran."""
        params: list[tf.Variable] = []
        for state in self.states.values():
            params.append(state.alpha)
            if state.beta is not None:
                params.append(state.beta)
        return params

    def _params(self, states: list[_DartsLayer]) -> list[tf.Variable]:
        return [p for s in states for p in ((s.alpha,) if s.beta is None else (s.alpha, s.beta))]

    def expected_parameters(self, states: list[_DartsLayer] | None = None) -> tf.Tensor:
        """`sum_layers sum_i softmax(alpha)_i * params(op_i)`: differentiable in `alpha`."""
        total = tf.zeros([])
        for state in self.keras_states() if states is None else states:
            if state.counts is None:
                state.counts = ([0] * len(state.spec.labels) if state.spec.variable else
                                [state.layer.parameter_count(i) for i in range(len(state.spec.labels))])
            total = total + tf.reduce_sum(tf.nn.softmax(state.alpha) * tf.constant(state.counts, tf.float32))
        return total

    def _objective(self, loss: Any, states: list[_DartsLayer]) -> Any:
        if self.config.complexity_weight == 0.0:
            return loss
        return tf.cast(loss, tf.float32) + self.config.complexity_weight * self.expected_parameters(states)

    def _adam(self, optimizer: _Optimizer, params: list[tf.Variable], grads: list[Any]) -> Any:
        """One Adam step with torch's L2 weight decay; returns the updates (an op in graph style)."""
        lr, (b1, b2), wd = self.config.lr, self.config.betas, self.config.weight_decay
        t = tf.cast(optimizer.step.assign_add(1), tf.float32)
        updates = []
        for p, g in zip(params, grads, strict=True):
            m, v = self._slots(optimizer, p)
            g = tf.zeros_like(p) if g is None else tf.convert_to_tensor(g)
            g = g + wd * p  # g <- g + wd * alpha
            m_t = m.assign(b1 * m + (1.0 - b1) * g)  # m <- b1 m + (1 - b1) g
            v_t = v.assign(b2 * v + (1.0 - b2) * g * g)  # v <- b2 v + (1 - b2) g^2
            m_hat = m_t / (1.0 - tf.pow(b1, t))
            v_hat = v_t / (1.0 - tf.pow(b2, t))
            updates.append(p.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + _EPSILON)))  # alpha -= lr m^/(sqrt(v^)+eps)
        return tf.group(*updates)

    def _slots(self, optimizer: _Optimizer, p: tf.Variable) -> tuple[tf.Variable, tf.Variable]:
        slots = optimizer.slots.get(id(p))
        if slots is None:
            if isinstance(p, tf.Variable) and v1.executing_eagerly_outside_functions():
                with tf.init_scope():
                    slots = (tf.Variable(tf.zeros(p.shape), trainable=False), tf.Variable(tf.zeros(p.shape),
                                                                                          trainable=False))
            else:
                name = p.op.name if hasattr(p, "op") else p.name.split(":")[0]
                slots = tuple(
                    v1.get_variable(f"{name}_adam_{which}", shape=p.shape, dtype=tf.float32,
                                    initializer=v1.zeros_initializer(), trainable=False,
                                    collections=[v1.GraphKeys.GLOBAL_VARIABLES], use_resource=True)
                    for which in ("m", "v")
                )
            optimizer.slots[id(p)] = slots
        return slots

    def _training_update_impl(self, session: Any = None, loss: Any = None, tape: Any = None,
                              feed_dict: Mapping[Any, Any] | None = None) -> None:
        if loss is None:
            raise TrialError("darts mode: training_update() needs loss=<validation loss>")
        if not self.states:
            raise TrialError("darts mode: training_update() was called before any mutable layer ran; "
                             "run one forward pass first")
        graph = getattr(loss, "graph", None) if not callable(loss) else None
        if graph is not None and not getattr(graph, "building_function", True):
            self._graph_step(loss, graph, self.need_session(session, "the architecture step"), feed_dict)
        else:
            self._keras_step(loss, tape)

    def _keras_step(self, loss: Any, tape: Any) -> None:
        states = self.keras_states()
        if not states:
            raise TrialError("darts mode: no keras-style mutable layer has run; a graph-style trial passes "
                             "loss=<a tensor of its graph> and session=")
        params = self._params(states)
        if callable(loss):
            with tf.GradientTape() as own:
                value = self._objective(loss(), states)
            grads = own.gradient(value, params)
        elif tape is not None:
            try:
                grads = tape.gradient(loss, params)
            except RuntimeError as error:
                raise TrialError(
                    f"darts mode: the tape passed to training_update() cannot give the gradient ({error}); "
                    "record the loss with tf.GradientTape(persistent=True) or pass loss=<a callable>"
                ) from error
            if self.config.complexity_weight:
                with tf.GradientTape() as own:
                    extra = self._objective(0.0, states)
                grads = [_add(g, e) for g, e in zip(grads, own.gradient(extra, params), strict=True)]
            value = loss
        elif not tf.executing_eagerly():
            value = self._objective(loss, states)
            grads = tf.gradients(value, params)
        else:
            raise TrialError(
                "darts mode: in eager mode training_update(loss=<tensor>) cannot differentiate a loss that "
                "is already computed; pass loss=<a callable returning the loss> (e.g. lambda: "
                "loss_fn(y_val, model(x_val))) or tape=<the GradientTape that recorded it>"
            )
        self._adam(self._optimizer(None), params, grads)
        self.steps += 1
        self._report(lambda: float(value), lambda: self._weights_values(states, [_read(s) for s in states]))

    def _graph_step(self, loss: Any, graph: tf.Graph, session: Any, feed_dict: Mapping[Any, Any] | None) -> None:
        states = [s for (context, _, _), s in self.states.items() if context is graph]
        if not states:
            raise TrialError("darts mode: the loss passed to training_update() belongs to a graph "
                             "without mutable layers")
        with graph.as_default():
            before = set(v1.global_variables())
            optimizer = self._optimizer(graph)
            built = optimizer.ops.get(loss)
            if built is None:
                params = self._params(states)
                total = self._objective(loss, states)
                update = self._adam(optimizer, params, tf.gradients(total, params))
                with tf.control_dependencies([update]):  # the weights after this step
                    probes = [_probes(state) for state in states]
                built = optimizer.ops[loss] = (update, total, probes)
            fresh = [v for v in v1.global_variables() if v not in before]
            if fresh:
                session.run(v1.variables_initializer(fresh))
        update, total, probes = built
        _, value, fetched = session.run([update, total, probes], feed_dict=dict(feed_dict or {}))
        # Kept so that the architecture can be derived after the session is closed.
        self._last_values[graph] = [(list(map(float, f[0])), list(map(float, f[1]))) for f in fetched]
        self.steps += 1
        self._report(lambda: float(value), lambda: self._weights_values(states, self._last_values[graph]))

    def _report(self, value: Callable[[], float], weights: Callable[[], Any]) -> None:
        every = self.config.report_every
        if self.reporter is not None and every and self.steps % every == 0 and not tf.inside_function():
            self.reporter({"default": value(), "arch_weights": weights(), "step": self.steps})

    # -- what the trial reports ---------------------------------------------------------------------

    def _all_values(self) -> list[tuple[_DartsLayer, tuple[list[float], list[float]]]]:
        """`(softmax(alpha), sigmoid(beta))` of every layer: keras style read now, graph style as of the
        last architecture step (or read with the last session, before any step)."""
        out: list[tuple[_DartsLayer, tuple[list[float], list[float]]]] = []
        for (context, _, _), state in self.states.items():
            if context is None:
                out.append((state, _read(state)))
        graphs = {context for (context, _, _) in self.states if context is not None}
        for graph in graphs:
            states = [s for (context, _, _), s in self.states.items() if context is graph]
            values = self._last_values.get(graph)
            if values is None:
                session = self.session if self.session is not None and self.session.graph is graph else None
                if session is None:
                    raise TrialError("darts mode (TensorFlow graph): reading the architecture weights needs the "
                                     "session; call training_update(session=sess, ...) at least once")
                with graph.as_default():
                    fetched = session.run([_probes(state) for state in states])
                values = [(list(map(float, f[0])), list(map(float, f[1]))) for f in fetched]
            out.extend(zip(states, values, strict=True))
        return out

    @staticmethod
    def _weights_values(states: list[_DartsLayer], values: list[tuple[list[float], list[float]]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for state, (probs, gates) in zip(states, values, strict=True):
            spec = state.spec
            if spec.variable:
                result[spec.block_key] = {"choice": {str(label): p for label, p in zip(spec.labels, probs,
                                                                                        strict=True)}}
                continue
            result.setdefault(spec.block_key, {})[spec.layer_key] = {
                "layer": dict(zip(spec.labels, probs, strict=True)),
                "inputs": dict(zip(spec.input_labels, gates, strict=False)),
            }
        return result

    def arch_weight_values(self) -> dict[str, Any]:
        """`{block: {layer: {"layer": {label: softmax(alpha)}, "inputs": {label: sigmoid(beta)}}}}`."""
        pairs = self._all_values()
        return self._weights_values([state for state, _ in pairs], [values for _, values in pairs])

    def derived_architecture(self) -> Architecture | None:
        """Argmax of `alpha` per layer, and the inputs with gate above 0.5 clamped to the size range
        (None before a layer ran)."""
        if not self.specs:
            return None
        arch: Architecture = {}
        for state, (probs, gates) in self._all_values():
            spec = state.spec
            best = max(range(len(probs)), key=lambda i: (probs[i], -i))
            if state.beta is None:
                inputs = list(range(len(spec.input_labels))) if spec.input_high else []
            else:
                inputs = top_inputs(spec, gates, 0.5)
            spec.put(arch, best, inputs)
        return arch


def _probes(state: _DartsLayer) -> list[tf.Tensor]:
    """`[softmax(alpha), sigmoid(beta)]` (an empty vector without beta), as tensors."""
    gates = tf.sigmoid(state.beta) if state.beta is not None else tf.zeros([0])
    return [tf.nn.softmax(state.alpha), gates]


def _read(state: _DartsLayer) -> tuple[list[float], list[float]]:
    probs, gates = _probes(state)
    return probs.numpy().tolist(), gates.numpy().tolist()


def _scaled(weight: Any, value: Any) -> Any:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype != weight.dtype:
        weight = tf.cast(weight, dtype)
    return weight * value


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _check_torch_only(config: DartsOptions) -> None:
    """Refuse, by key, the darts options only the PyTorch backend implements."""
    unsupported = [
        (config.per_example, "darts.per_example"),
        (config.hard, "darts.hard"),
        (config.temperature_schedule != "steps", "darts.temperature"),
        (config.optimizer != "adam", "darts.optimizer.name"),
        (config.warmup > 0, "darts.warmup"),
        (config.complexity_metric != "params", "darts.complexity.metric"),
        (config.complexity_form != "linear", "darts.complexity.form"),
        (config.hypernet is not None, "darts.complexity.hypernet"),
    ]
    for used, key in unsupported:
        if used:
            raise ConfigError("the TensorFlow backend does not offer this darts option yet (PyTorch does)", key)
