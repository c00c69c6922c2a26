"""darts options the seeds use: temperature per epoch, SGD or Adam, warm-up, flops and log costs;
oneshot's `max_params` budget."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes.torch import DartsBackend, OneShotBackend
from nasctl.runtime.trial import StandalonePlatform, TrialContext, use_context
from torch import nn

import nas
import nas.nn


def test_temperature_decays_per_epoch():
    backend = DartsBackend({"sampler": "gumbel", "temperature": {"start": 1.0, "decay": 0.956}})
    assert backend.temperature() == pytest.approx(1.0)
    backend.epoch = 10
    assert backend.temperature() == pytest.approx(0.956 ** 10)  # tau = start * decay^epoch


@pytest.mark.parametrize(("schedule", "expected"), [("linear", 5.0 + (0.5 - 5.0) * 0.25),
                                                    ("exponential", 5.0 * (0.5 / 5.0) ** 0.25)])
def test_temperature_goes_from_start_to_end_over_epochs(schedule, expected):
    backend = DartsBackend({"temperature": {"start": 5.0, "end": 0.5, "epochs": 40, "schedule": schedule}})
    backend.epoch = 10
    assert backend.temperature() == pytest.approx(expected)
    backend.epoch = 400
    assert backend.temperature() == pytest.approx(0.5)


def test_training_update_takes_the_epoch(kit):
    backend = DartsBackend({"temperature": {"start": 1.0, "decay": 0.5}}, seed=0)
    model = kit.Net(backend)
    task = kit.Task(0)
    backend.training_update(loss=task.loss(model, task.batch()), epoch=3)
    assert backend.epoch == 3 and backend.temperature() == pytest.approx(0.125)
    with pytest.raises(TrialError, match=r"training_update\(epoch=\.\.\.\) takes the epoch number"):
        backend.training_update(loss=task.loss(model, task.batch()), epoch=-1)


@pytest.mark.parametrize(("name", "kind"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)])
def test_architecture_optimizer_is_sgd_or_adam_with_its_own_settings(kit, name, kind):
    backend = DartsBackend({"optimizer": {"name": name, "lr": 0.2, "weight_decay": 0.01}}, seed=0)
    model = kit.Net(backend)
    task = kit.Task(0)
    backend.training_update(loss=task.loss(model, task.batch()))
    assert isinstance(backend.optimizer, kind)
    group = backend.optimizer.param_groups[0]
    assert group["lr"] == 0.2 and group["weight_decay"] == 0.01
    assert not {id(p) for p in group["params"]} & {id(p) for p in model.parameters()}


def test_warmup_keeps_the_architecture_weights_still_for_n_steps(kit):
    backend = DartsBackend({"warmup": 3, "optimizer": {"lr": 0.5}}, seed=0)
    model = kit.Net(backend)
    task = kit.Task(0)
    model(*task.batch()[:3])
    before = [p.detach().clone() for p in backend.arch_parameters()]
    for _ in range(3):
        backend.training_update(loss=task.loss(model, task.batch()))
    assert all(torch.equal(a, b) for a, b in zip(before, backend.arch_parameters(), strict=True))
    assert backend.optimizer is None
    backend.training_update(loss=task.loss(model, task.batch()))
    assert not all(torch.equal(a, b) for a, b in zip(before, backend.arch_parameters(), strict=True))


def test_flops_cost_counts_each_candidate_on_its_first_forward(kit):
    backend = DartsBackend({"complexity": {"metric": "flops", "weight": 1e-3}}, seed=0)
    model = kit.Net(backend)
    model(*kit.Task(0).batch()[:3])
    # a Conv1d of kernel k on 2 -> 2 channels over length 12: 2 * (2*2*k) * 12 per example
    assert backend.costs[f"{kit.BLOCK}/h"].flops.tolist() == [2 * 12 * 12, 2 * 12 * 12, 2 * 4 * 12]


def test_log_penalty_pulls_towards_the_cheap_candidate(kit):
    backend = DartsBackend({"complexity": {"metric": "params", "weight": 5.0, "form": "log"},
                            "optimizer": {"lr": 0.05}}, seed=0)
    model = kit.Net(backend)
    task = kit.Task(0)
    model(*task.batch()[:3])                 # candidates exist after the first forward
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(100):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
        backend.training_update(loss=task.loss(model, task.batch()))
    assert backend.derived_architecture()[kit.BLOCK]["h"]["chosen_layer"] == "Conv(1)"


def test_oneshot_max_params_only_derives_subnets_within_the_budget():
    context = TrialContext(StandalonePlatform(architecture={}), mode="oneshot",
                           mode_config={"oneshot": {"max_params": 100}})
    with use_context(context):
        width = nas.choice(4, 8, 16, key="m/w")
        model = nn.Sequential(nas.nn.Linear(8, width), nas.nn.Linear(width, 2))
        model(torch.randn(4, 8))
        backend = context.backends[0]
        assert isinstance(backend, OneShotBackend)
        widest_scores_best = backend.derive(lambda: float(backend.fixed["m/w"]), budget=3)
    # width w costs 8w + w + 2w + 2 = 11w + 2: 46, 90, 178; only 4 and 8 fit in 100
    assert widest_scores_best == {"m/w": 8}
    strict = OneShotBackend({"max_params": 10})
    strict.specs, strict.costs = backend.specs, backend.costs
    with pytest.raises(TrialError, match="no architecture fits the budget"):
        strict.derive(lambda: 1.0, budget=3)
