"""NNI's mnist-nas example in Keras (TensorFlow 2), on scikit-learn's digits (8x8 images, 10 classes).

A small CNN whose layers are open choices: each `mutable_layers` annotation chooses an operation
(a conv, a separable conv, a pooling, the identity) and, for the deeper layers, which earlier output
to add as a skip connection. The same script runs in the four
modes; the config picks the mode (and, for enas, `--rewards` reports a reward per subgraph):

    nasctl trial run examples/mnist-nas-tf/keras/mnist.py -- --epochs 3            # classic, standalone
    nasctl run examples/mnist-nas-tf/keras/classic.yml                              # a whole experiment
    nasctl run examples/mnist-nas-tf/keras/darts.yml                                # enas.yml, oneshot.yml

In every step `training_update(loss=...)` is a step of the mode: darts steps its architecture weights
on the validation loss (a callable, evaluated under a tape), enas switches to the next subgraph, classic
and oneshot do nothing. Weight steps run inside `tf.function`.
"""

# The annotations define and use names that ruff cannot see until the file is compiled.
# ruff: noqa: F401, F821, F841
from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from ops import Conv, Pool, SepConv, identity
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


class Net(keras.Model):
    """stem -> two searched layers at 8x8 -> downsample -> two searched layers at 4x4 -> classifier."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.stem = keras.Sequential([layers.Conv2D(channels, 3, padding="same", use_bias=False),
                                      layers.BatchNormalization(momentum=0.9), layers.ReLU()])
        self.down = layers.MaxPool2D(2)
        self.head = layers.Dense(10)

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        c = self.channels
        stem = self.stem(x, training=training)
        """@nas.mutable_layers(
            {
                layer_choice: [Conv(size=3, channels=c), Conv(size=5, channels=c), SepConv(size=3, channels=c),
                               Pool(size=3, kind="max")],
                fixed_inputs: [stem],
                layer_output: conv1
            },
            {
                layer_choice: [Conv(size=3, channels=c), Conv(size=3, channels=c, dilation=2),
                               SepConv(size=5, channels=c), identity()],
                fixed_inputs: [conv1],
                optional_inputs: [stem],
                optional_input_size: [0, 1],
                layer_output: conv2
            }
        )"""
        down = self.down(conv2)
        """@nas.mutable_layers(
            {
                layer_choice: [Conv(size=3, channels=c), SepConv(size=3, channels=c), Pool(size=3, kind="avg")],
                fixed_inputs: [down],
                layer_output: conv3
            },
            {
                layer_choice: [Conv(size=1, channels=c), Conv(size=3, channels=c), identity()],
                fixed_inputs: [conv3],
                optional_inputs: [down],
                optional_input_size: [0, 1],
                layer_output: conv4
            }
        )"""
        return self.head(tf.reduce_mean(conv4, axis=[1, 2]))


def load_data(seed: int) -> tuple[np.ndarray, ...]:
    """Digits as float images in [0, 1], channels last: train 70%, validation 10%, test 20%."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    x_rest, x_test, y_rest, y_test = train_test_split(images, digits.target, test_size=0.2, random_state=seed,
                                                      stratify=digits.target)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.125, random_state=seed,
                                                      stratify=y_rest)
    return x_train, y_train, x_val, y_val, x_test, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("NAS_TRIAL_SEED", "0")))
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (trials run side by side)")
    parser.add_argument("--rewards", action="store_true",
                        help="enas: report each subgraph's validation accuracy as its reward")
    args = parser.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_val, y_val, x_test, y_test = load_data(args.seed)

    learning_rate = 0.003

    model = Net(args.channels)
    model(x_train[:2])  # the first forward creates the candidates; build the optimizer after it
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # autograph=False: nothing here branches on tensors, and the compiled script has no source file
    @tf.function(autograph=False)
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        # enas runs one subgraph per step: the other candidates get no gradient
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables, strict=True) if g is not None])
        return loss

    @tf.function(autograph=False)
    def predict(x: tf.Tensor) -> tf.Tensor:
        return tf.argmax(model(x, training=False), axis=1)

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(predict(x).numpy() == y))

    rng = np.random.default_rng(args.seed)
    start = time.monotonic()
    test_acc = 0.0
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            pick = rng.integers(0, len(x_val), args.batch_size)
            x_v, y_v = x_val[pick], y_val[pick]

            def val_loss(x_v: np.ndarray = x_v, y_v: np.ndarray = y_v) -> tf.Tensor:
                return loss_fn(y_v, model(x_v, training=True))

            """@nas.training_update(loss=val_loss)"""
            loss = train_step(x_train[batch], y_train[batch])
            if args.rewards:
                reward = accuracy(x_v, y_v)
                """@nas.report_final_result(reward)"""
        test_acc = accuracy(x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {float(loss):.4f}, test accuracy {test_acc:.4f}, "
              f"{time.monotonic() - start:.1f}s", flush=True)
        """@nas.report_intermediate_result(test_acc)"""
    """@nas.report_final_result(test_acc)"""


if __name__ == "__main__":
    main()
