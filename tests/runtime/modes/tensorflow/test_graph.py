"""Graph-mode (`tf.compat.v1`, NNI v1 style) backends: candidates are functions using `get_variable`."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes.tensorflow import (
    ARCH_COLLECTION,
    ClassicBackend,
    DartsBackend,
    EnasBackend,
    OneShotBackend,
)

v1 = tf.compat.v1
FAST = {"optimizer": {"lr": 0.05}}


def conv_reference(net, task, index: int, inputs: list[str]) -> np.ndarray:
    """What candidate `index` computes on `x + inputs` with the weight the session holds."""
    with net.graph.as_default():
        w = [v for v in v1.global_variables() if v.name == f"task_Net_call_h__h/c{index}/w:0"][0]
        kernel = net.session.run(w)
    x, s1, s2, _ = task.val
    h = x + sum({"s1": s1, "s2": s2}[name] for name in inputs) if inputs else x
    dilation = 2 if index == 1 else 1
    return np.tanh(tf.nn.convolution(h, kernel, padding="SAME", dilations=dilation).numpy())


def test_classic_builds_only_the_chosen_subgraph(kit):
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(3, dilation=2)", "chosen_inputs": ["s2"]}}}
    net = kit.GraphNet(ClassicBackend(architecture=arch), 0)
    with net.graph.as_default():
        assert [v.name for v in v1.trainable_variables()] == ["task_Net_call_h__h/c1/w:0"]
        assert not v1.get_collection(ARCH_COLLECTION)
    forward = [op.name for op in net.graph.get_operations()
               if op.type == "Conv2D" and not op.name.startswith("gradients/")]
    assert forward == ["task_Net_call_h__h/c1/convolution"]
    assert not net.graph.as_graph_def().library.function  # no branches hiding other subgraphs
    task = kit.Task(0)
    out = net.session.run(net.out, net.feed(task.val))
    np.testing.assert_allclose(out, conv_reference(net, task, 1, ["s2"]), atol=1e-5)
    # The supernet (oneshot) builds all three convolutions, inside its branches.
    full = kit.GraphNet(OneShotBackend(seed=0), 0)
    library = full.graph.as_graph_def().library.function
    full_convs = {node.name for f in library for node in f.node_def if node.op == "Conv2D"}
    assert len(full_convs) >= 3
    with full.graph.as_default():
        assert len(v1.trainable_variables()) == 3


def test_darts_architecture_variables_learn_and_recover_the_target(kit):
    backend = DartsBackend(FAST, seed=0)
    net = kit.GraphNet(backend, 0)
    with net.graph.as_default():
        arch_vars = v1.get_collection(ARCH_COLLECTION)
        assert len(arch_vars) == 2  # alpha and beta
        assert not set(arch_vars) & set(v1.trainable_variables())  # the user's minimize() cannot see them
    task = kit.Task(0)
    before = net.session.run(arch_vars)
    net.train(task, 1)
    np.testing.assert_array_equal(net.session.run(arch_vars)[0], before[0])  # weight step: alpha unchanged

    def arch_step(n, t):
        backend.training_update(tf=tf, session=n.session, loss=n.loss, feed_dict=n.feed(t.batch()))

    net.train(task, 200, arch_step)
    assert backend.derived_architecture() == kit.TARGET
    probs = backend.arch_weight_values()[kit.BLOCK]["h"]
    assert probs["layer"]["Conv(3)"] > 0.5 and probs["inputs"]["s2"] > 0.5 > probs["inputs"]["s1"]
    # One update op per loss tensor: 200 steps did not grow the graph.
    count = len(net.graph.get_operations())
    arch_step(net, task)
    assert len(net.graph.get_operations()) == count
    net.session.close()  # NNI scripts report the final result after the session's `with` block
    assert backend.derived_architecture() == kit.TARGET


def test_darts_graph_complexity_counts_each_candidates_variables_in_the_callers_scope(kit):
    backend = DartsBackend({**FAST, "complexity": {"metric": "params", "weight": 1.0}}, seed=0)
    graph = tf.Graph()
    with graph.as_default(), v1.variable_scope("model"):
        x = v1.placeholder(tf.float32, [None, 12, 2])
        out = backend.layer(kit.BLOCK, "h", kit.GRAPH_CANDIDATES, [x], {"s1": x, "s2": x}, [0, 1])
        loss = tf.reduce_mean(out ** 2)
        names = sorted(v.name for v in v1.trainable_variables())
        assert names == [f"model/task_Net_call_h__h/c{i}/w:0" for i in range(3)]
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    data = np.ones([4, 12, 2], np.float32)
    for _ in range(30):
        backend.training_update(session=session, loss=loss, feed_dict={x: data})
    assert next(iter(backend.states.values())).counts == [12, 12, 4]
    assert backend.derived_architecture()[kit.BLOCK]["h"]["chosen_layer"] == "Conv(1)"


def test_darts_graph_step_needs_the_session(kit):
    backend = DartsBackend(FAST, seed=0)
    net = kit.GraphNet(backend, 0)
    with pytest.raises(TrialError, match="needs the session"):
        backend.training_update(loss=net.loss)


def test_enas_loads_the_subgraph_into_the_session_and_runs_only_it(kit):
    sent = [{kit.BLOCK: {"h": {"chosen_layer": label, "chosen_inputs": inputs}}}
            for label, inputs in (("Conv(1)", ["s1"]), ("Conv(3, dilation=2)", []), ("Conv(3)", ["s2"]))]
    backend = EnasBackend(seed=0)
    backend.fetch_parameters = lambda: sent.pop(0)
    net = kit.GraphNet(backend, 0)
    task = kit.Task(0)
    with net.graph.as_default():
        assert len(v1.trainable_variables()) == 3  # the full graph, every candidate once
    np.testing.assert_allclose(net.session.run(net.out, net.feed(task.val)), conv_reference(net, task, 2, ["s1"]),
                               atol=1e-5)
    count = len(net.graph.get_operations())
    for index, inputs in ((1, []), (0, ["s2"])):
        backend.training_update(tf=tf, session=net.session)  # NNI's form
        out = net.session.run(net.out, net.feed(task.val))
        np.testing.assert_allclose(out, conv_reference(net, task, index, inputs), atol=1e-5)
    assert len(net.graph.get_operations()) == count  # switching adds no ops


def test_enas_graph_update_needs_the_session(kit):
    backend = EnasBackend(seed=0)
    backend.fetch_parameters = kit.uniform_fetch(0)
    kit.GraphNet(backend, 0)
    with pytest.raises(TrialError, match=r"session"):
        backend.training_update(tf=tf)


def test_enas_recovers_the_target_from_rewards(kit):
    backend = EnasBackend({"window": 200}, seed=0)
    backend.fetch_parameters = kit.uniform_fetch(1)
    net = kit.GraphNet(backend, 0)

    def step(n, t):
        backend.on_final_result(-n.val_loss(t))
        backend.training_update(tf=tf, session=n.session)

    net.train(kit.Task(0), 300, step)
    assert backend.derived_architecture() == kit.TARGET


def test_oneshot_recovers_the_target_and_evaluates_without_dropout(kit):
    backend = OneShotBackend({"budget": 20}, seed=0)
    net = kit.GraphNet(backend, 0)
    task = kit.Task(0)
    net.train(task, 300)
    flag = net.graph.get_collection("nas_training")[0]
    feed = {**net.feed(task.val), flag: False}
    first, second = net.session.run(net.out, feed), net.session.run(net.out, feed)
    np.testing.assert_array_equal(first, second)  # no dropout when evaluating

    def evaluate():
        return -float(net.session.run(net.loss, feed))

    assert backend.derive(evaluate, session=net.session) == kit.TARGET
    np.testing.assert_array_equal(net.session.run(net.out, feed), first)  # back to the supernet
