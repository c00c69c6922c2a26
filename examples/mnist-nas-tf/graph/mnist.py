"""NNI's mnist-nas example as NNI v1 wrote it (a `tf.compat.v1` graph and a session), on scikit-learn's digits.

The layers are open choices between functions of `ops.py` that build ops and create their weights with
`tf.compat.v1.get_variable`; the deeper layers choose a skip connection. NNI's annotations (`@nni.`)
compile unchanged. The same script runs in the four modes; the config picks the mode (and, for enas,
`--rewards` reports a reward per subgraph):

    nasctl trial run examples/mnist-nas-tf/graph/mnist.py -- --epochs 3             # classic, standalone
    nasctl run examples/mnist-nas-tf/graph/darts.yml                                # classic/enas/oneshot.yml

Every step calls `training_update(tf=tf, session=sess, loss=..., feed_dict=...)` (NNI's form): darts runs
its architecture optimizer on the validation batch, enas loads the next subgraph into the session,
classic and oneshot do nothing. Evaluation feeds the graph's `nas_training` flag False, if it has one,
so oneshot's dropout is off.
"""

# The annotations define and use names that ruff cannot see until the file is compiled.
# ruff: noqa: F401, F821, F841
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import tensorflow as tf
from ops import avg_pool, conv2d, max_pool, separable_conv
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

v1 = tf.compat.v1


class MnistNetwork:
    """stem -> two searched layers at 8x8 -> downsample -> two searched layers at 4x4 -> classifier."""

    def __init__(self, channels: int, learning_rate: float) -> None:
        self.channels = channels
        self.learning_rate = learning_rate

    def build_network(self) -> None:
        ch = self.channels
        self.images = v1.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        self.labels = v1.placeholder(tf.int64, [None], name="labels")
        with v1.variable_scope("stem"):
            w = v1.get_variable("w", [3, 3, 1, ch], initializer=v1.glorot_uniform_initializer())
            stem = tf.nn.relu(tf.nn.conv2d(self.images, w, 1, "SAME"))
        """@nni.mutable_layers(
            {
                layer_choice: [conv2d(size=3, ch=ch), conv2d(size=5, ch=ch), separable_conv(size=3, ch=ch),
                               max_pool(size=3)],
                fixed_inputs: [stem],
                layer_output: conv1
            },
            {
                layer_choice: [conv2d(size=3, ch=ch), conv2d(size=3, ch=ch, dilation=2),
                               separable_conv(size=5, ch=ch), avg_pool(size=3)],
                fixed_inputs: [conv1],
                optional_inputs: [stem],
                optional_input_size: [0, 1],
                layer_output: conv2
            }
        )"""
        down = tf.nn.max_pool2d(conv2, 2, 2, "SAME")
        """@nni.mutable_layers(
            {
                layer_choice: [conv2d(size=3, ch=ch), separable_conv(size=3, ch=ch), avg_pool(size=3)],
                fixed_inputs: [down],
                layer_output: conv3
            },
            {
                layer_choice: [conv2d(size=1, ch=ch), conv2d(size=3, ch=ch), max_pool(size=3)],
                fixed_inputs: [conv3],
                optional_inputs: [down],
                optional_input_size: [0, 1],
                layer_output: conv4
            }
        )"""
        with v1.variable_scope("head"):
            w = v1.get_variable("w", [ch, 10], initializer=v1.glorot_uniform_initializer())
            b = v1.get_variable("b", [10], initializer=v1.zeros_initializer())
            logits = tf.matmul(tf.reduce_mean(conv4, axis=[1, 2]), w) + b
        self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.labels, logits=logits))
        self.train_step = v1.train.AdamOptimizer(self.learning_rate).minimize(self.loss)
        self.accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), self.labels), tf.float32))


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

    x_train, y_train, x_val, y_val, x_test, y_test = load_data(args.seed)

    learning_rate = 0.003

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(args.seed)
        net = MnistNetwork(args.channels, learning_rate)
        net.build_network()
        evaluating = {flag: False for flag in graph.get_collection("nas_training")}
        config = v1.ConfigProto(intra_op_parallelism_threads=args.threads, inter_op_parallelism_threads=args.threads)
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(args.seed)
            start = time.monotonic()
            test_acc = 0.0
            for epoch in range(args.epochs):
                order = rng.permutation(len(x_train))
                for i in range(0, len(order), args.batch_size):
                    batch = order[i:i + args.batch_size]
                    pick = rng.integers(0, len(x_val), args.batch_size)
                    val_feed = {net.images: x_val[pick], net.labels: y_val[pick]}
                    """@nni.training_update(tf=tf, session=sess, loss=net.loss, feed_dict=val_feed)"""
                    loss, _ = sess.run([net.loss, net.train_step], {net.images: x_train[batch],
                                                                     net.labels: y_train[batch]})
                    if args.rewards:
                        reward = float(sess.run(net.accuracy, {**val_feed, **evaluating}))
                        """@nni.report_final_result(reward)"""
                test_acc = float(sess.run(net.accuracy, {net.images: x_test, net.labels: y_test, **evaluating}))
                print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f}, test accuracy {test_acc:.4f}, "
                      f"{time.monotonic() - start:.1f}s", flush=True)
                """@nni.report_intermediate_result(test_acc)"""
    """@nni.report_final_result(test_acc)"""


if __name__ == "__main__":
    main()
