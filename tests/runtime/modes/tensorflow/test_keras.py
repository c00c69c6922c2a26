"""Keras / eager (TF2) backends: classic builds one candidate, the one-shot modes find the right one."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from nasctl.runtime.errors import ArchitectureError, ConfigError, TrialError
from nasctl.runtime.modes.tensorflow import ClassicBackend, DartsBackend, EnasBackend, OneShotBackend

FAST = {"optimizer": {"lr": 0.05}}


def darts_arch_step(backend: DartsBackend):
    """An architecture step inside `tf.function`, on a fresh batch, with the loss as a callable."""
    compiled = {}

    def step(model, task):
        if "f" not in compiled:
            @tf.function
            def f(x, s1, s2, y):
                backend.training_update(loss=lambda: tf.reduce_mean((model((x, s1, s2)) - y) ** 2))
            compiled["f"] = f
        compiled["f"](*task.batch())
    return step


# -- classic ----------------------------------------------------------------------------------------


def test_classic_builds_and_runs_only_the_chosen_candidate_on_the_chosen_input(kit):
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(1)", "chosen_inputs": ["s1"]}}}
    backend = ClassicBackend(architecture=arch)
    model = kit.Net(backend)
    x, s1, s2, _ = kit.Task(0).batch()
    out = model((x, s1, s2))
    assert list(model.nas_candidates) == ["task_Net_call_h__h__2"]  # only Conv(1), tracked by the model
    conv = model.nas_candidates["task_Net_call_h__h__2"]
    assert len(model.trainable_variables) == 2  # scale and Conv(1)'s kernel: nothing else was built
    assert any(v is conv.conv.kernel for v in model.trainable_variables)
    expected = np.tanh(tf.nn.conv1d(x + s1, conv.conv.kernel, 1, "SAME").numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_classic_reuses_the_candidate_and_works_inside_tf_function(kit):
    backend = ClassicBackend(architecture=kit.TARGET)
    model = kit.Net(backend)
    x, s1, s2, _ = kit.Task(0).batch()
    eager = model((x, s1, s2)).numpy()
    compiled = tf.function(lambda a, b, c: model((a, b, c)))
    np.testing.assert_allclose(compiled(x, s1, s2).numpy(), eager, rtol=1e-5, atol=1e-6)
    assert len(model.nas_candidates) == 1 and len(model.trainable_variables) == 2


def test_candidates_of_a_nested_built_layer_are_tracked_by_it_and_the_model(kit):
    """Keras 3 locks a layer's state once built; the candidates created on its first call still register."""
    backend = OneShotBackend(seed=0)

    class Block(keras.layers.Layer):
        def call(self, inputs):
            x, s1, s2 = inputs
            return backend.layer(kit.BLOCK, "h", kit.KERAS_CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1], self)

    class Outer(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = Block()

        def call(self, inputs):
            return self.block(inputs)

    model = Outer()
    tf.function(lambda a, b, c: model((a, b, c)))(*kit.Task(0).batch()[:3])
    assert len(model.block.nas_candidates) == 3
    assert len(model.trainable_variables) == 3


def test_classic_without_owner_keeps_candidates_in_the_registry(kit):
    backend = ClassicBackend(architecture=kit.TARGET)
    x, s1, s2, _ = kit.Task(0).batch()
    backend.layer(kit.BLOCK, "h", kit.KERAS_CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1])
    assert list(backend.registry) == ["task_Net_call_h__h__0"]


def test_a_candidate_class_that_cannot_be_constructed_is_named(kit):
    candidates = {"Conv(size=3)": (kit.Conv, (), {"size": 3})}  # Conv takes kernel=, not size=
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(size=3)", "chosen_inputs": []}}}
    backend = ClassicBackend(architecture=arch)
    x = tf.ones([1, 12, 2])
    with pytest.raises(TrialError, match=r"layer task/Net.call/h/h: cannot construct candidate 'Conv\(size=3\)'"):
        backend.layer(kit.BLOCK, "h", candidates, [x], {"s1": x, "s2": x}, [0, 1])


def test_classic_rejects_an_architecture_naming_an_unknown_candidate(kit):
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(7)", "chosen_inputs": []}}}
    model = kit.Net(ClassicBackend(architecture=arch))
    with pytest.raises(ArchitectureError, match=r"task/Net.call/h.*'Conv\(7\)' is not one of"):
        model(kit.Task(0).batch()[:3])


# -- darts ------------------------------------------------------------------------------------------


def test_gumbel_darts_recovers_the_target_and_anneals(kit):
    backend = DartsBackend({**FAST, "sampler": "gumbel", "anneal_steps": 200}, seed=0)
    kit.keras_train(backend, 0, 200, arch_step=darts_arch_step(backend))
    assert backend.derived_architecture() == kit.TARGET
    assert float(backend.temperature()) == pytest.approx(0.1)


def test_gumbel_temperature_is_computed_from_the_step_counter():
    backend = DartsBackend({"sampler": "gumbel", "temperature": [5.0, 0.1], "anneal_steps": 100})
    assert float(backend.temperature()) == pytest.approx(5.0)
    backend._optimizer(None).step.assign(50)
    assert float(backend.temperature()) == pytest.approx(5.0 * (0.1 / 5.0) ** 0.5, rel=1e-5)
    backend._optimizer(None).step.assign(1000)
    assert float(backend.temperature()) == pytest.approx(0.1)


def test_large_complexity_weight_moves_darts_to_the_smallest_candidate(kit):
    backend = DartsBackend({**FAST, "complexity": {"metric": "params", "weight": 1.0}}, seed=0)
    kit.keras_train(backend, 0, 100, arch_step=darts_arch_step(backend))
    assert backend.derived_architecture()[kit.BLOCK]["h"]["chosen_layer"] == "Conv(1)"
    # Conv(3) and Conv(3, dilation=2) have 12 weights each, Conv(1) has 4.
    assert next(iter(backend.states.values())).counts == [12, 12, 4]
    assert float(backend.expected_parameters()) < 5.0


def test_arch_weights_are_not_model_variables_and_the_user_optimizer_leaves_them(kit):
    backend = DartsBackend(FAST, seed=0)
    model, _ = kit.keras_train(backend, 0, 3)
    arch = {id(v) for v in backend.arch_parameters()}
    assert len(arch) == 2  # alpha and beta of the one layer
    assert not arch & {id(v) for v in model.trainable_variables}
    assert not arch & {id(v) for v in model.variables}
    assert len(model.nas_candidates) == 3 and len(model.trainable_variables) == 4
    before = [v.numpy().copy() for v in backend.arch_parameters()]
    kit.keras_train(backend, 1, 3)  # weight steps only
    for v, b in zip(backend.arch_parameters(), before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)


def test_darts_step_with_a_tape_and_with_a_callable_agree(kit):
    """The same first step, once through `tape=` and once through a callable, moves alpha the same way."""
    results = []
    for how in ("tape", "callable"):
        keras.utils.set_random_seed(0)
        backend = DartsBackend(FAST, seed=0)
        model = kit.Net(backend)
        data = kit.Task(0).batch()
        model(data[:3])
        if how == "tape":
            with tf.GradientTape(persistent=True) as tape:
                loss = kit.mse(model, data)
            backend.training_update(loss=loss, tape=tape)
        else:
            backend.training_update(loss=lambda model=model, data=data: kit.mse(model, data))
        results.append([v.numpy() for v in backend.arch_parameters()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(results[0][0], 0.0, atol=1e-9)


def test_darts_eager_tensor_loss_without_tape_is_a_clear_error(kit):
    backend = DartsBackend(FAST, seed=0)
    model = kit.Net(backend)
    data = kit.Task(0).batch()
    with pytest.raises(TrialError, match="cannot differentiate a loss that is already computed"):
        backend.training_update(loss=kit.mse(model, data))


def test_darts_update_before_any_layer_and_without_loss_are_clear_errors():
    with pytest.raises(TrialError, match="before any mutable layer ran"):
        DartsBackend().training_update(loss=lambda: tf.constant(1.0))
    with pytest.raises(TrialError, match=r"needs loss=<validation loss>"):
        DartsBackend().training_update()
    with pytest.raises(TrialError, match="unknown argument.*lr"):
        DartsBackend().training_update(loss=lambda: 0.0, lr=0.1)


def test_darts_options_are_checked_with_the_key():
    with pytest.raises(ConfigError, match="darts.order"):
        DartsBackend({"order": 2})
    with pytest.raises(ConfigError, match="darts.sampler"):
        DartsBackend({"sampler": "uniform"})


def test_darts_reports_arch_weights_every_n_steps(kit):
    backend = DartsBackend({**FAST, "report_every": 2}, seed=0)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    data = kit.Task(0).batch()
    model(data[:3])
    for _ in range(4):
        backend.training_update(loss=lambda: kit.mse(model, data))
    assert [r["step"] for r in reports] == [2, 4]
    assert set(reports[0]["arch_weights"][kit.BLOCK]["h"]["layer"]) == set(kit.LABELS)
    assert isinstance(reports[0]["default"], float)


# -- enas -------------------------------------------------------------------------------------------


def test_enas_runs_exactly_the_subgraph_it_was_sent(kit):
    backend = EnasBackend(seed=0)
    sent = [{kit.BLOCK: {"h": {"chosen_layer": label, "chosen_inputs": inputs}}}
            for label, inputs in (("Conv(1)", ["s1"]), ("Conv(3)", []))]
    backend.fetch_parameters = lambda: sent.pop(0) if sent else None
    model = kit.Net(backend)
    x, s1, s2, _ = kit.Task(0).batch()
    compiled = tf.function(lambda a, b, c: model((a, b, c)))
    out = compiled(x, s1, s2)
    conv1 = model.nas_candidates["task_Net_call_h__h__2"].conv.kernel
    np.testing.assert_allclose(out.numpy(), np.tanh(tf.nn.conv1d(x + s1, conv1, 1, "SAME").numpy()), atol=1e-5)
    backend.training_update()
    conv3 = model.nas_candidates["task_Net_call_h__h__0"].conv.kernel
    np.testing.assert_allclose(compiled(x, s1, s2).numpy(), np.tanh(tf.nn.conv1d(x, conv3, 1, "SAME").numpy()),
                               atol=1e-5)
    np.testing.assert_allclose(model((x, s1, s2)).numpy(), compiled(x, s1, s2).numpy(), atol=1e-5)
    backend.training_update()  # the tuner has no more: the last subgraph stays
    assert backend.exhausted


def test_enas_without_a_controller_is_a_clear_error(kit):
    model = kit.Net(EnasBackend(seed=0))
    with pytest.raises(TrialError, match="enas mode needs a controller"):
        model(kit.Task(0).batch()[:3])


# -- oneshot ----------------------------------------------------------------------------------------


def test_oneshot_drops_paths_at_the_seed_rate_and_not_when_evaluating(kit):
    backend = OneShotBackend({"r": 0.01}, seed=0)
    ones = tf.ones([1, 1])

    def one(inputs):
        return inputs[0][0] * 0.0 + 1.0

    ops = {"a": (one, (), {}), "b": (one, (), {})}

    @tf.function
    def draws():  # one layer call per iteration of a graph loop: a fresh draw each time
        return tf.map_fn(lambda _: backend.layer("m/f/h", "h", ops, [ones], {}, 0)[0, 0], tf.range(4000),
                         fn_output_signature=tf.float32)

    values = draws().numpy()
    rate = 0.01 ** 0.5  # r ** (1/k), k = 2 candidates
    keep = 1.0 / (1.0 - rate)
    levels = np.array([0.0, keep, 2 * keep])
    assert np.all(np.min(np.abs(values[:, None] - levels[None, :]), axis=1) < 1e-5)
    assert np.mean(values == 0.0) == pytest.approx(0.01, abs=0.01)  # both dropped: probability r
    assert np.mean(values) == pytest.approx(2.0, rel=0.1)  # unbiased, as tf.nn.dropout

    class Owner(keras.layers.Layer):
        def call(self, x, training=None):
            return backend.layer("m/f/h", "h", ops, [x], {}, 0, self)

    assert float(Owner()(ones, training=False)[0, 0]) == 2.0


def test_oneshot_derive_needs_a_forward_and_a_number(kit):
    backend = OneShotBackend({"budget": 2}, seed=0)
    with pytest.raises(TrialError, match="before any mutable layer ran"):
        backend.derive(lambda: 0.0)
    model = kit.Net(backend)
    model(kit.Task(0).batch()[:3])
    with pytest.raises(TrialError, match="evaluate\\(\\) must return a number"):
        backend.derive(lambda: "good")
    data = kit.Task(0).val
    with pytest.raises(TrialError, match="did not run the fixed architecture.*training=False"):
        backend.derive(lambda: -float(kit.mse(model, data)))  # a training call: the supernet
    assert backend.derived_architecture() is None  # nothing derived: nothing to report
    assert backend.finish() is None
