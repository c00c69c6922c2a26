"""The candidate operations of mnist.py: Keras layers called NNI's way, `op([fixed, chosen])`.

Every op first adds its inputs (the fixed input and the chosen skip connections, all of the same
shape), then applies itself; shapes are kept, so any op can follow any other.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


def _merge(inputs: list[list[tf.Tensor]]) -> tf.Tensor:
    fixed, chosen = inputs
    merged = fixed[0]
    for skip in [*fixed[1:], *chosen]:
        merged = merged + skip
    return merged


class Conv(keras.layers.Layer):
    """conv(size) -> batch norm -> relu, `channels` out."""

    def __init__(self, size: int, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = layers.Conv2D(channels, size, padding="same", dilation_rate=dilation, use_bias=False)
        self.norm = layers.BatchNormalization(momentum=0.9)

    def call(self, inputs: list[list[tf.Tensor]]) -> tf.Tensor:
        return tf.nn.relu(self.norm(self.conv(_merge(inputs))))


class SepConv(keras.layers.Layer):
    """Depthwise separable conv(size) -> batch norm -> relu."""

    def __init__(self, size: int, channels: int) -> None:
        super().__init__()
        self.conv = layers.SeparableConv2D(channels, size, padding="same", use_bias=False)
        self.norm = layers.BatchNormalization(momentum=0.9)

    def call(self, inputs: list[list[tf.Tensor]]) -> tf.Tensor:
        return tf.nn.relu(self.norm(self.conv(_merge(inputs))))


class Pool(keras.layers.Layer):
    """Max or average pooling with stride 1 (the size is kept)."""

    def __init__(self, size: int, kind: str = "max") -> None:
        super().__init__()
        pool = layers.MaxPool2D if kind == "max" else layers.AveragePooling2D
        self.pool = pool(size, strides=1, padding="same")

    def call(self, inputs: list[list[tf.Tensor]]) -> tf.Tensor:
        return self.pool(_merge(inputs))


def identity(inputs: list[list[tf.Tensor]]) -> tf.Tensor:
    """The sum of the inputs, unchanged (a plain function candidate)."""
    return _merge(inputs)
