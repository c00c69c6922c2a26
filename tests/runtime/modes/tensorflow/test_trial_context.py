"""The TensorFlow backends as `(tensorflow, mode)` registry entries, driven through a trial context."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import keras
import nasctl.runtime.modes.tensorflow as tf_modes
import numpy as np
import pytest
import tensorflow as tf
from nasctl.runtime.modes import _registry as registry
from nasctl.runtime.modes._registry import backend_class
from nasctl.runtime.trial import Platform, TrialContext, mutable_layer, training_update


class Recording(Platform):
    """A platform that serves the given parameter sets in order and records what the trial sends."""

    def __init__(self, parameters: list[dict[str, Any]], seed: int = 0) -> None:
        super().__init__(experiment_id="E", trial_id="T", seed=seed)
        self.parameters = list(parameters)
        self.sent: list[tuple[str, Any]] = []

    def request_parameters(self) -> tuple[int | None, dict[str, Any]] | None:
        return (len(self.sent), self.parameters.pop(0)) if self.parameters else None

    def send_metric(self, kind: str, value: Any, parameter_id: int | None, sequence: int | None) -> None:
        self.sent.append((kind, value))

    def send_architecture(self, architecture: dict[str, Any], parameter_id: int | None) -> None:
        self.sent.append(("architecture", architecture))


@pytest.fixture
def context_of(make_current):
    """`context_of(platform, mode_config)`: a current trial context (the TensorFlow backends are built in)."""
    saved = dict(registry._BACKENDS)
    yield lambda platform, mode_config=None: make_current(TrialContext(platform, mode_config=mode_config))
    registry._BACKENDS.clear()
    registry._BACKENDS.update(saved)


def compiled_net(kit, mode: str) -> keras.Model:
    """The Keras net as the compiler writes it: `_nas.mutable_layer(..., mode, self)`."""

    class CompiledNet(keras.Model):
        def call(self, inputs):
            x, s1, s2 = inputs
            return mutable_layer(kit.BLOCK, "h", kit.KERAS_CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1], mode, self)

    return CompiledNet()


def test_the_registry_serves_the_tensorflow_backends_for_the_four_modes(context_of):
    for mode, name in (("classic", "ClassicBackend"), ("enas", "EnasBackend"),
                       ("oneshot", "OneShotBackend"), ("darts_mode", "DartsBackend")):
        assert backend_class("tensorflow", mode) is getattr(tf_modes, name)


def test_importing_the_package_imports_no_framework():
    code = ("import sys, nasctl.runtime.modes.tensorflow as m; m.__all__; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'framework imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_classic_through_the_context_runs_the_architecture_and_tracks_the_candidate(kit, context_of):
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(1)", "chosen_inputs": ["s2"]}}}
    context_of(Recording([arch]))
    model = compiled_net(kit, "classic")
    x, s1, s2, _ = kit.Task(0).batch()
    out = model((x, s1, s2))
    assert list(model.nas_candidates) == ["task_Net_call_h__h__2"]
    kernel = model.nas_candidates["task_Net_call_h__h__2"].conv.kernel
    np.testing.assert_allclose(out.numpy(), np.tanh(tf.nn.conv1d(x + s2, kernel, 1, "SAME").numpy()), atol=1e-5)


def test_darts_through_the_context_steps_reports_and_derives(kit, context_of):
    platform = Recording([{}])
    context = context_of(platform, {"darts": {"optimizer": {"lr": 0.05}, "report_every": 1}})
    context.get_next_parameter()
    model = compiled_net(kit, "darts")
    data = kit.Task(0).batch()
    model(data[:3])
    backend = context.backends[0]
    before = [v.numpy().copy() for v in backend.arch_parameters()]
    training_update(loss=lambda: kit.mse(model, data))
    assert not np.allclose(before[0], backend.arch_parameters()[0].numpy())
    assert platform.sent[0][0] == "arch_weights" and "arch_weights" in platform.sent[0][1]
    context.report_final_result(0.5)
    kinds = [kind for kind, _ in platform.sent]
    assert kinds[-2:] == ["architecture", "final"]
    assert set(platform.sent[-2][1][kit.BLOCK]["h"]) == {"chosen_layer", "chosen_inputs"}


def test_enas_through_the_context_takes_the_next_subgraph_as_the_next_parameters(kit, context_of):
    sent = [{kit.BLOCK: {"h": {"chosen_layer": label, "chosen_inputs": inputs}}}
            for label, inputs in (("Conv(1)", ["s1"]), ("Conv(3)", []))]
    platform = Recording(sent)
    context_of(platform)
    model = compiled_net(kit, "enas")
    x, s1, s2, _ = kit.Task(0).batch()
    out = model((x, s1, s2))
    assert len(model.nas_candidates) == 3
    conv1 = model.nas_candidates["task_Net_call_h__h__2"].conv.kernel
    np.testing.assert_allclose(out.numpy(), np.tanh(tf.nn.conv1d(x + s1, conv1, 1, "SAME").numpy()), atol=1e-5)
    training_update()
    conv3 = model.nas_candidates["task_Net_call_h__h__0"].conv.kernel
    np.testing.assert_allclose(model((x, s1, s2)).numpy(), np.tanh(tf.nn.conv1d(x, conv3, 1, "SAME").numpy()),
                               atol=1e-5)


def test_oneshot_through_the_context_derives_with_the_shared_derive_architecture(kit, context_of):
    from nasctl.runtime.modes._derive import derive_architecture

    platform = Recording([{"task/lr/choice": 0.1}])
    context = context_of(platform, {"oneshot": {"budget": 9}})
    context.get_next_parameter()
    model = compiled_net(kit, "oneshot")
    task = kit.Task(0)
    model(task.batch()[:3])
    evaluate_fn = tf.function(lambda x, s1, s2, y: tf.reduce_mean((model((x, s1, s2), training=False) - y) ** 2))
    derived = derive_architecture(lambda: -float(evaluate_fn(*task.val)), context=context)
    assert derived["task/lr/choice"] == 0.1 and set(derived[kit.BLOCK]["h"]) == {"chosen_layer", "chosen_inputs"}
    context.report_final_result(0.5)
    assert [kind for kind, _ in platform.sent] == ["architecture", "final"]
    assert platform.sent[0][1] == {kit.BLOCK: derived[kit.BLOCK]}
