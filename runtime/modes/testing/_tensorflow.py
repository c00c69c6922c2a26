"""The synthetic task of `_torch.py` in TensorFlow: Keras (eager and `tf.function`) and graph mode.

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps) and `s1` only adds noise, so each mode must find `Conv(3)` and `s2`.
Tensors are channels-last, `(batch, length, channels)`. Importing this module imports TensorFlow.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ._run import CHANNELS, LENGTH, BackendFactory, Run, candidate_table, run_layer, summed, task_space

__all__ = ["BLOCK", "LABELS", "TARGET", "SEARCH_SPACE", "Conv", "KERAS_CANDIDATES", "GRAPH_CANDIDATES",
           "graph_conv", "Net", "Task", "mse", "keras_train", "GraphNet", "uniform_fetch", "MODES", "search"]

BLOCK = "task/Net.call/h"
TARGET, SEARCH_SPACE = task_space(BLOCK)
# (out, in, taps) as in the torch task; Keras kernels are (taps, in, out).
KERNEL = np.array([[[0.8, -1.2, 0.6], [0.3, 0.9, -0.7]],
                   [[-0.5, 0.4, 1.1], [1.0, -0.6, 0.2]]], dtype="float32").transpose(2, 1, 0)

v1 = tf.compat.v1


class Conv(keras.layers.Layer):
    """`tanh(conv(sum of fixed and chosen inputs))`, a Keras candidate in NNI's calling convention."""

    def __init__(self, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = keras.layers.Conv1D(CHANNELS, kernel, dilation_rate=dilation, padding="same", use_bias=False)

    def call(self, inputs: list[list[tf.Tensor]]) -> tf.Tensor:
        return tf.tanh(self.conv(summed(inputs)))


KERAS_CANDIDATES = candidate_table(Conv)
LABELS = tuple(KERAS_CANDIDATES)


def graph_conv(inputs: list[list[tf.Tensor]], kernel: int, dilation: int = 1) -> tf.Tensor:
    """The same candidate as a graph-mode function that creates its weight with `get_variable`."""
    h = summed(inputs)
    w = v1.get_variable("w", [kernel, CHANNELS, CHANNELS], initializer=v1.glorot_uniform_initializer())
    return tf.tanh(tf.nn.convolution(h, w, padding="SAME", dilations=dilation))


GRAPH_CANDIDATES = candidate_table(graph_conv)


class Net(keras.Model):
    """What the compiler makes of a one-layer Keras model: the layer call with `self` as the owner."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        x, s1, s2 = inputs
        h = run_layer(self.backend, "tensorflow", BLOCK, "h", KERAS_CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1],
                      self)
        return self.scale * h


class Task:
    """Seeded data: `batch()` draws a training batch from a pool, `val` is a fixed validation batch."""

    def __init__(self, seed: int, batch: int = 32, pool: int = 2048) -> None:
        self.rng = np.random.default_rng(seed)
        self.batch_size = batch
        self.val = self._make(256)
        self.pool = self._make(pool)

    @staticmethod
    def target(x: np.ndarray, s2: np.ndarray) -> np.ndarray:
        return np.tanh(tf.nn.conv1d(x + s2, KERNEL, stride=1, padding="SAME").numpy())

    def _make(self, n: int) -> tuple[np.ndarray, ...]:
        x, s1, s2 = (self.rng.standard_normal((n, LENGTH, CHANNELS)).astype("float32") for _ in range(3))
        return x, s1, s2, self.target(x, s2).astype("float32")

    def batch(self) -> tuple[np.ndarray, ...]:
        index = self.rng.integers(0, len(self.pool[0]), self.batch_size)
        return tuple(part[index] for part in self.pool)


def mse(model: keras.Model, data: tuple[Any, ...]) -> tf.Tensor:
    x, s1, s2, y = data
    return tf.reduce_mean((model((x, s1, s2)) - y) ** 2)


def keras_train(backend: Any, seed: int, steps: int, *, arch_step: Any = None, lr: float = 0.03,
                built: Callable[[Net], None] | None = None) -> tuple[Net, Task]:
    """Train the Keras net on the task: a weight step (`tf.function`), then `arch_step(model, task)`;
    `built(model)` is called once the first forward has built the candidates."""
    tf.random.set_seed(seed)
    keras.utils.set_random_seed(seed)
    task = Task(seed)
    model = Net(backend)
    model(task.batch()[:3])  # candidates exist after the first forward
    if built is not None:
        built(model)
    optimizer = keras.optimizers.Adam(lr)

    @tf.function
    def weight_step(x: tf.Tensor, s1: tf.Tensor, s2: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = mse(model, (x, s1, s2, y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables, strict=True) if g is not None])
        return loss

    for _ in range(steps):
        weight_step(*task.batch())
        if arch_step is not None:
            arch_step(model, task)
    return model, task


class GraphNet:
    """An NNI v1-style graph: placeholders, the layer, a loss and a weight optimizer, in its own graph."""

    def __init__(self, backend: Any, seed: int, lr: float = 0.03) -> None:
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1.set_random_seed(seed)
            self.x, self.s1, self.s2, self.y = (
                v1.placeholder(tf.float32, [None, LENGTH, CHANNELS], name=n) for n in ("x", "s1", "s2", "y")
            )
            self.out = run_layer(backend, "tensorflow", BLOCK, "h", GRAPH_CANDIDATES, [self.x],
                                 {"s1": self.s1, "s2": self.s2}, [0, 1], self)
            self.loss = tf.reduce_mean((self.out - self.y) ** 2)
            self.train_op = v1.train.AdamOptimizer(lr).minimize(self.loss)
            self.session = v1.Session(graph=self.graph)
            self.session.run(v1.global_variables_initializer())

    def feed(self, data: tuple[np.ndarray, ...]) -> dict[Any, np.ndarray]:
        return dict(zip((self.x, self.s1, self.s2, self.y), data, strict=True))

    def train(self, task: Task, steps: int, arch_step: Any = None) -> None:
        for _ in range(steps):
            self.session.run(self.train_op, self.feed(task.batch()))
            if arch_step is not None:
                arch_step(self, task)

    def val_loss(self, task: Task) -> float:
        return float(self.session.run(self.loss, self.feed(task.val)))


def uniform_fetch(seed: int) -> Callable[[], dict[str, Any]]:
    """A stand-in controller for enas: sends uniformly sampled subgraphs of the task's layer."""
    rng = random.Random(seed)

    def fetch() -> dict[str, Any]:
        return {BLOCK: {"h": {"chosen_layer": rng.choice(LABELS), "chosen_inputs": rng.choice([[], ["s1"], ["s2"]])}}}

    return fetch


# -- the kit's searches ----------------------------------------------------------------------------


def _search(backend: Any, seed: int, steps: int, arch_step: Any = None) -> tuple[Net, Task, Run]:
    """`keras_train`, recording the candidates after the first forward and at the end."""
    seen: dict[str, Any] = {}

    def built(model: Net) -> None:
        seen["before"] = dict(model.nas_candidates.items())
        seen["initial"] = {k: [v.numpy().copy() for v in c.trainable_variables] for k, c in seen["before"].items()}

    model, task = keras_train(backend, seed, steps, arch_step=arch_step, built=built)
    after = dict(model.nas_candidates.items())
    run = Run(derived=None, candidates_before=seen["before"], candidates_after=after, initial_weights=seen["initial"],
              final_weights={k: [v.numpy().copy() for v in c.trainable_variables] for k, c in after.items()},
              weight_ids={k: [id(v) for v in c.trainable_variables] for k, c in after.items()},
              trainable={id(v) for v in model.trainable_variables})
    return model, task, run


def _darts(seed: int, factory: BackendFactory | None) -> Run:
    from nasctl.runtime.modes.tensorflow import DartsBackend

    backend = (factory or DartsBackend)({"optimizer": {"lr": 0.05}}, seed=seed)
    compiled: dict[str, Any] = {}

    def arch_step(model: Net, task: Task) -> None:  # inside tf.function, the loss as a callable
        if "f" not in compiled:
            @tf.function
            def f(x: tf.Tensor, s1: tf.Tensor, s2: tf.Tensor, y: tf.Tensor) -> None:
                backend.training_update(loss=lambda: tf.reduce_mean((model((x, s1, s2)) - y) ** 2))
            compiled["f"] = f
        compiled["f"](*task.batch())

    _, _, run = _search(backend, seed, 200, arch_step)
    run.derived = backend.derived_architecture()
    probs = backend.arch_weight_values()[BLOCK]["h"]
    if not probs["layer"]["Conv(3)"] > 0.5:
        run.problems.append(f"the weight of the right candidate Conv(3) is {probs['layer']['Conv(3)']:.3f}, not above 0.5")
    if not probs["inputs"]["s2"] > 0.5 > probs["inputs"]["s1"]:
        run.problems.append(f"the input weights are s1 {probs['inputs']['s1']:.3f}, s2 {probs['inputs']['s2']:.3f}; "
                            "expected s2 above 0.5 above s1")
    return run


def _enas(seed: int, factory: BackendFactory | None) -> Run:
    from nasctl.runtime.modes.tensorflow import EnasBackend

    backend = (factory or EnasBackend)({"window": 200}, seed=seed)
    backend.fetch_parameters = uniform_fetch(seed)
    val: dict[str, Any] = {}

    def step(model: Net, task: Task) -> None:
        if "f" not in val:
            val["f"] = tf.function(lambda x, s1, s2, y: tf.reduce_mean((model((x, s1, s2)) - y) ** 2))
        backend.on_final_result(-float(val["f"](*task.val)))  # the reward of the subgraph that ran
        backend.training_update()  # the next subgraph

    _, _, run = _search(backend, seed, 300, step)
    run.derived = backend.derived_architecture()
    return run


def _oneshot(strategy: str) -> Callable[[int, BackendFactory | None], Run]:
    def search_oneshot(seed: int, factory: BackendFactory | None) -> Run:
        from nasctl.runtime.modes.tensorflow import OneShotBackend

        backend = (factory or OneShotBackend)({"strategy": strategy, "budget": 20}, seed=seed)
        model, task, run = _search(backend, seed, 300)
        evaluate = tf.function(lambda x, s1, s2, y: tf.reduce_mean((model((x, s1, s2), training=False) - y) ** 2))
        derived = backend.derive(lambda: -float(evaluate(*task.val)))
        run.derived = backend.derived_architecture()
        if derived != run.derived:
            run.problems.append(f"derive() returned {derived} but derived_architecture() is {run.derived}")
        fixed = [int(state.fixed.variable.numpy()) for state in backend.states.values()]
        if fixed != [-1] * len(fixed):
            run.problems.append(f"a subnet stays fixed after derivation ({fixed}): the supernet is not back")
        return run
    return search_oneshot


MODES: dict[str, Callable[[int, BackendFactory | None], Run]] = {
    "darts": _darts, "enas": _enas, "oneshot_dropout": _oneshot("dropout"), "oneshot_single_path": _oneshot("single_path"),
}
"""Each one-shot mode (oneshot with each strategy) as a Keras search on the task: `(seed, factory) -> Run`."""


def search(mode: str, seed: int, factory: BackendFactory | None = None) -> Run:
    """Run `mode`'s search on the task."""
    return MODES[mode](seed, factory)
