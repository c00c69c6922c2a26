"""Candidates written like NNI's `operators.py` (mnist-nas): weights made with `tf.Variable(<tensor>)`.

NNI's operators build their weights with `tf.Variable(tf.truncated_normal(...))` each time they are
called. Inside the branches of enas (`switch_case`) and oneshot (`cond`) such a variable cannot be
created; nasctl builds each candidate once outside the branches and the calls inside reuse its
variables, so every path (the supernet, each subgraph, the fixed path used to derive) shares one set.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from nasctl.runtime.modes.tensorflow import EnasBackend, OneShotBackend

v1 = tf.compat.v1
BLOCK = "mnist/mutable_block_10"
LENGTH, CHANNELS = 6, 2


def weight_variable(shape):
    """NNI's style: a new variable from an initial tensor on every call."""
    return tf.Variable(v1.truncated_normal(shape, stddev=0.1))


def sum_op(inputs):
    """NNI's style: the first optional input joins the fixed one through a new 1x1 weight."""
    fixed, optional = inputs[0][0], inputs[1][0]
    return fixed + tf.nn.convolution(optional, weight_variable([1, CHANNELS, CHANNELS]), padding="SAME")


def conv(inputs, size=1):
    x = inputs[0][0] if not inputs[1] else sum_op(inputs)
    return tf.nn.convolution(x, weight_variable([size, CHANNELS, CHANNELS]), padding="SAME")


def pool(inputs, size=2):
    x = inputs[0][0] if not inputs[1] else sum_op(inputs)
    return tf.nn.pool(x, [size], "AVG", padding="SAME")


CANDIDATES = {"conv(size=1)": (conv, (), {"size": 1}), "conv(size=3)": (conv, (), {"size": 3}),
              "pool(size=2)": (pool, (), {"size": 2})}


def build(backend):
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        x = v1.placeholder(tf.float32, [None, LENGTH, CHANNELS])
        skip = v1.placeholder(tf.float32, [None, LENGTH, CHANNELS])
        out = backend.layer(BLOCK, "mutable_layer_0", CANDIDATES, [x], {"skip": skip}, [0, 1], None)
        loss = tf.reduce_mean(out ** 2)
        train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    return graph, session, (x, skip), out, loss, train


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, LENGTH, CHANNELS)).astype("float32")


def test_enas_builds_nni_operators_once_and_switches_subgraphs():
    sent = [{BLOCK: {"mutable_layer_0": {"chosen_layer": label, "chosen_inputs": inputs}}}
            for label, inputs in (("conv(size=3)", ["skip"]), ("conv(size=1)", []), ("pool(size=2)", ["skip"]))]
    backend = EnasBackend(seed=0)
    backend.fetch_parameters = lambda: sent.pop(0)
    graph, session, (x, skip), out, loss, train = build(backend)
    with graph.as_default():
        shapes = sorted(tuple(v.shape.as_list()) for v in v1.trainable_variables())
    # conv(size=1): its weight and sum_op's; conv(size=3): the same; pool: sum_op's. One set.
    assert shapes == sorted([(1, 2, 2), (1, 2, 2), (3, 2, 2), (1, 2, 2), (1, 2, 2)])
    feed = {x: data(), skip: data() + 1}
    for _ in range(3):
        session.run(train, feed)
        assert np.isfinite(session.run(loss, feed))
        if sent:
            backend.training_update(tf=tf, session=session)  # NNI's positional form reaches the backend as keywords


def test_oneshot_trains_and_derives_on_one_set_of_weights():
    backend = OneShotBackend({"budget": 4}, seed=0)
    graph, session, (x, skip), out, loss, train = build(backend)
    with graph.as_default():
        variables = v1.trainable_variables()
    assert len(variables) == 5  # not one more set for the fixed path used to derive
    feed = {x: data(), skip: data() + 1}
    before = session.run(variables)
    for _ in range(3):
        session.run(train, feed)
    after = session.run(variables)
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # all trained
    flag = graph.get_collection("nas_training")[0]
    arch = backend.derive(lambda: -float(session.run(loss, {**feed, flag: False})), session=session)
    assert arch[BLOCK]["mutable_layer_0"]["chosen_layer"] in CANDIDATES
