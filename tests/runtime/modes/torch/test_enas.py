"""enas: one subgraph per step from the ENAS controller, rewards back to it, the derived architecture."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import ArchitectureError, ConfigError, TrialError
from nasctl.runtime.modes.torch import EnasBackend


def test_forward_runs_only_the_current_subgraph(kit):
    backend = EnasBackend(seed=0)
    model = kit.Net(backend)
    arch = {kit.BLOCK: {"h": {"chosen_layer": "Conv(3, dilation=2)", "chosen_inputs": ["s1"]}}}
    backend.set_architecture(arch)
    task = kit.Task(0)
    x, s1, s2, _ = task.batch()
    out = model(x, s1, s2)
    expected = model.nas_candidates["task_Net_forward_h__h__1"]([[x], [s1]])
    assert torch.equal(out, expected)
    assert len(model.nas_candidates) == 3  # every candidate built once, sharing weights across subgraphs
    out.sum().backward()
    grads = {name: m.conv.weight.grad for name, m in model.nas_candidates.items()}
    assert grads["task_Net_forward_h__h__1"] is not None
    assert grads["task_Net_forward_h__h__0"] is None and grads["task_Net_forward_h__h__2"] is None


def test_training_update_switches_subgraph_and_rewards_go_to_it(kit):
    sent = [{kit.BLOCK: {"h": {"chosen_layer": label, "chosen_inputs": []}}} for label in kit.CANDIDATES]
    queue = list(sent)
    backend = EnasBackend({"window": 10})
    backend.fetch_parameters = lambda: queue.pop(0) if queue else None
    model = kit.Net(backend)
    x, s1, s2, _ = kit.Task(0).batch()
    for reward in (0.1, 0.9, 0.3):
        model(x, s1, s2)
        backend.on_final_result({"default": reward})
        backend.training_update()
    assert backend.exhausted  # no more subgraphs: the last one stays
    assert backend.derived_architecture() == sent[1]


def test_errors_name_the_problem(kit):
    backend = EnasBackend()
    model = kit.Net(backend)
    x = torch.zeros(1, 2, 12)
    with pytest.raises(TrialError, match="enas mode needs a controller"):
        model(x, x, x)
    backend.set_architecture({kit.BLOCK: {"h": {"chosen_layer": "Conv(9)", "chosen_inputs": []}}})
    with pytest.raises(ArchitectureError, match="architecture key 'task/Net.forward/h'.*'Conv\\(9\\)'"):
        model(x, x, x)
    assert EnasBackend().derived_architecture() is None  # no subgraph ran: nothing to report
    with pytest.raises(ConfigError, match="key 'enas.window'"):
        EnasBackend({"window": 0})


def test_training_update_with_a_loss_reports_minus_the_loss_as_the_reward(kit):
    queue = [{kit.BLOCK: {"h": {"chosen_layer": label, "chosen_inputs": []}}} for label in kit.CANDIDATES]
    backend = EnasBackend()
    backend.fetch_parameters = lambda: queue.pop(0) if queue else None
    rewards = []
    backend.report_reward = lambda value: (rewards.append(value), backend.on_final_result(value))
    model = kit.Net(backend)
    x, s1, s2, y = kit.Task(0).batch()
    loss = ((model(x, s1, s2) - y) ** 2).mean()
    backend.training_update(loss=loss)
    assert rewards == [pytest.approx(-float(loss.detach()))]
    assert backend.architecture == {kit.BLOCK: {"h": {"chosen_layer": "Conv(3, dilation=2)", "chosen_inputs": []}}}
