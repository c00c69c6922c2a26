"""The candidate operations of mnist.py, NNI v1 style: functions that build `tf.compat.v1` ops.

Each is called as `op([fixed_inputs, chosen_inputs], ...)` and creates its weights with
`tf.compat.v1.get_variable`, so nasctl can give each candidate its own variable scope and share its
weights between the subgraphs that use it (enas). Inputs are added first; shapes are kept.
"""

from __future__ import annotations

import tensorflow as tf

v1 = tf.compat.v1


def sum_op(inputs: list[list[tf.Tensor]]) -> tf.Tensor:
    """The fixed input plus the chosen skip connections."""
    fixed, chosen = inputs
    merged = fixed[0]
    for skip in [*fixed[1:], *chosen]:
        merged = merged + skip
    return merged


def _weight(shape: list[int]) -> tf.Variable:
    return v1.get_variable("w", shape, initializer=v1.glorot_uniform_initializer())


def _bias(channels: int) -> tf.Variable:
    return v1.get_variable("b", [channels], initializer=v1.constant_initializer(0.1))


def _layer_norm(x: tf.Tensor, ch: int) -> tf.Tensor:
    """Per-example normalisation with a learned scale and shift (keeps summed supernets stable)."""
    mean, variance = tf.nn.moments(x, axes=[1, 2, 3], keepdims=True)
    gamma = v1.get_variable("gamma", [ch], initializer=v1.ones_initializer())
    return gamma * (x - mean) * tf.math.rsqrt(variance + 1e-5) + _bias(ch)


def conv2d(inputs: list[list[tf.Tensor]], size: int, ch: int, dilation: int = 1) -> tf.Tensor:
    """relu(norm(conv(size))), `ch` channels in and out."""
    x = sum_op(inputs)
    return tf.nn.relu(_layer_norm(tf.nn.convolution(x, _weight([size, size, ch, ch]), padding="SAME",
                                                    dilations=dilation), ch))


def separable_conv(inputs: list[list[tf.Tensor]], size: int, ch: int) -> tf.Tensor:
    """relu(norm(depthwise conv(size) then pointwise conv))."""
    x = sum_op(inputs)
    depthwise = v1.get_variable("depthwise", [size, size, ch, 1], initializer=v1.glorot_uniform_initializer())
    pointwise = v1.get_variable("pointwise", [1, 1, ch, ch], initializer=v1.glorot_uniform_initializer())
    return tf.nn.relu(_layer_norm(tf.nn.separable_conv2d(x, depthwise, pointwise, [1, 1, 1, 1], "SAME"), ch))


def max_pool(inputs: list[list[tf.Tensor]], size: int) -> tf.Tensor:
    """Max pooling with stride 1."""
    return tf.nn.max_pool2d(sum_op(inputs), size, 1, "SAME")


def avg_pool(inputs: list[list[tf.Tensor]], size: int) -> tf.Tensor:
    """Average pooling with stride 1."""
    return tf.nn.avg_pool2d(sum_op(inputs), size, 1, "SAME")
