"""The framework packages' backends, reached through the registry from `nas.mutable_layer`."""

from __future__ import annotations

import pytest

import nas


def test_torch_darts_through_the_registry(standalone, capsys):
    torch = pytest.importorskip("torch")
    from torch import nn

    class Lin(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.linear = nn.Linear(n, n)

        def forward(self, inputs):
            return self.linear(sum(inputs[0]) + sum(inputs[1]))

    def double(inputs):
        return 2 * sum(inputs[0])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(4, 4)

        def forward(self, x):
            stem = self.stem(x)
            return nas.mutable_layer("m/Net.forward/h", "h", {"Lin(4)": (Lin, (4,), {}), "double()": (double, (), {})},
                                     [stem], {"x": x}, [0, 1], "darts", self)

    context = standalone()
    context.mode_config = {"darts": {}}
    net = Net()
    net(torch.randn(8, 4)).pow(2).mean().backward()
    assert "nas_candidates.m_Net_forward_h__h__0.linear.weight" in net.state_dict()
    nas.training_update(loss=net(torch.randn(8, 4)).pow(2).mean())
    nas.report_final_result(0.5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('arch_weights result: {"default": ')  # the final weights (step 1, not yet reported)
    assert '"step": 1' in lines[0]
    assert lines[1].startswith('derived architecture: {"m/Net.forward/h": {"h": {"chosen_layer": ')
    assert lines[2] == "final result: 0.5"


def test_keras_classic_tracks_candidates_on_the_owner(standalone, capsys):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")

    class Dense(keras.layers.Layer):
        def __init__(self, n):
            super().__init__()
            self.dense = keras.layers.Dense(n)

        def call(self, inputs):
            return self.dense(tf.add_n(inputs[0] + inputs[1]))

    def relu(inputs):
        return tf.nn.relu(tf.add_n(inputs[0] + inputs[1]))

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.stem = keras.layers.Dense(4)

        def call(self, x):
            stem = self.stem(x)
            return nas.mutable_layer("m/Net.call/h", "h", {"Dense(4)": (Dense, (4,), {}), "relu()": (relu, (), {})},
                                     [stem], {"x": x}, [0, 1], "classic", self)

    standalone({"m/Net.call/h": {"h": {"chosen_layer": "Dense(4)", "chosen_inputs": ["x"]}}})
    net = Net()
    assert net(tf.ones((2, 4))).shape == (2, 4)
    assert len(net.trainable_variables) == 4  # the stem's and the chosen Dense's kernel and bias
    nas.report_final_result(1)
    assert capsys.readouterr().out == "final result: 1\n"  # classic mode derives nothing
