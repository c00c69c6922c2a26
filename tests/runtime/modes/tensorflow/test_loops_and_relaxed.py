"""Keras: a layer annotated inside a loop (one key and one set of weights per iteration) in classic and
darts mode, and a relaxed function choice (`architectural=True`) in darts mode."""

from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.trial import StandalonePlatform, TrialContext, derive_architecture, use_context

import nas
from nasctl import annotator

SOURCE = textwrap.dedent('''
    import keras
    import tensorflow as tf

    class Dense(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.dense = keras.layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs[0][0])

    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.scale = self.add_weight(shape=(shape[0][0][-1],), initializer="ones")

        def call(self, inputs):
            return tf.tanh(inputs[0][0] * self.scale)

    class Net(keras.Model):
        def call(self, x):
            for i in range(3):
                """@nas.mutable_layer({layer_choice: [Dense(4), Scale()], fixed_inputs: [x], layer_output: x})"""
            return x
''')
KEYS = [f"net/Net.call/x[{i}]" for i in range(3)]
ARCHITECTURE = {key: {"x": {"chosen_layer": label, "chosen_inputs": []}}
                for key, label in zip(KEYS, ["Dense(4)", "Scale()", "Dense(4)"], strict=True)}


@pytest.mark.parametrize("mode", ["classic", "darts"])
def test_a_keras_loop_of_three_layers_has_three_keys_and_three_sets_of_weights(mode):
    result = annotator.compile_source(SOURCE, "net", mode)
    assert list(result.search_space) == KEYS
    context = TrialContext(StandalonePlatform(architecture=ARCHITECTURE if mode == "classic" else {}), mode=mode)
    namespace: dict = {}
    with use_context(context):
        exec(compile(result.code, "net.py", "exec"), namespace)
        model = namespace["Net"]()
        model(tf.ones((2, 4)))
        names = sorted(model.nas_candidates)
        if mode == "darts":
            assert sorted(derive_architecture(context=context)) == KEYS
            assert len(nas.arch_parameters(context=context)) == 3
    per_iteration = [[name for name in names if f"_x_{i}___" in name] for i in range(3)]
    assert [len(group) for group in per_iteration] == [1 if mode == "classic" else 2] * 3
    weights = [id(v) for v in model.weights]
    assert len(weights) == len(set(weights)) == (2 + 1 + 2 if mode == "classic" else 3 * 3)


def test_keras_darts_relaxes_a_function_choice_and_derives_the_one_that_fits():
    keras.utils.set_random_seed(0)
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts",
                           mode_config={"darts": {"optimizer": {"lr": 0.05}, "report_every": 0}})
    rng = np.random.default_rng(0)
    target = rng.standard_normal((4, 4)).astype("float32")
    with use_context(context):
        act = nas.choice(tf.nn.relu, tf.tanh, key="m/act/choice", labels=["tf.nn.relu", "tf.tanh"],
                         architectural=True)
        dense = keras.layers.Dense(4)
        optimizer = keras.optimizers.Adam(0.02)
        dense(tf.ones((1, 4)))
        for _ in range(150):
            x = rng.standard_normal((32, 4)).astype("float32")
            y = np.tanh(x @ target)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((act(dense(x)) - y) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, dense.trainable_variables), dense.trainable_variables,
                                          strict=True))
            xv = rng.standard_normal((32, 4)).astype("float32")
            context.training_update(loss=lambda xv=xv: tf.reduce_mean((act(dense(xv)) - np.tanh(xv @ target)) ** 2))
        assert derive_architecture(context=context)["m/act/choice"] == "tf.tanh"
        weights = context.backends[0].arch_weight_values()["m/act/choice"]["choice"]
    assert weights["tf.tanh"] > weights["tf.nn.relu"]


def test_torch_only_darts_options_are_refused_by_key():
    from nasctl.runtime.modes.tensorflow import DartsBackend

    with pytest.raises(ConfigError, match="key 'darts.warmup'"):
        DartsBackend({"warmup": 10})
    with pytest.raises(ConfigError, match="key 'darts.complexity.form'"):
        DartsBackend({"complexity": {"form": "log"}})
