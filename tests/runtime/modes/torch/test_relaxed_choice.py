"""`nas.choice(f, g, architectural=True)`: a choice of functions that darts mixes and derives,
oneshot samples, enas switches, and classic mode simply returns."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.trial import StandalonePlatform, TrialContext, derive_architecture, use_context
from nasctl.runtime.trial._value import MixedChoice
from torch import nn

import nas

LABELS = ["torch.relu", "torch.tanh"]


def choose(context: TrialContext):
    with use_context(context):
        return nas.choice(torch.relu, torch.tanh, key="m/act/choice", labels=LABELS, architectural=True)


def test_classic_returns_the_chosen_function():
    context = TrialContext(StandalonePlatform(architecture={"m/act/choice": "torch.tanh"}), mode="classic")
    assert choose(context) is torch.tanh


def test_darts_mixes_the_functions_by_softmax_alpha():
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts")
    act = choose(context)
    assert isinstance(act, MixedChoice)
    x = torch.linspace(-2, 2, 9)
    with use_context(context):
        y = act(x)
        weights = torch.softmax(context.backends[0].arch_parameters()[0], -1)
    assert torch.allclose(y, weights[0] * torch.relu(x) + weights[1] * torch.tanh(x))


def test_darts_derives_the_function_that_fits():
    torch.manual_seed(0)
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts",
                           mode_config={"darts": {"optimizer": {"lr": 0.05}, "report_every": 0}})
    act = choose(context)
    linear = nn.Linear(4, 4)
    target = nn.Linear(4, 4)
    with use_context(context):
        optimizer = torch.optim.Adam(linear.parameters(), lr=0.02)
        for _ in range(200):
            x = torch.randn(32, 4)
            y = torch.tanh(target(x)).detach()
            optimizer.zero_grad()
            nn.functional.mse_loss(act(linear(x)), y).backward()
            optimizer.step()
            x = torch.randn(32, 4)
            context.training_update(loss=nn.functional.mse_loss(act(linear(x)), torch.tanh(target(x)).detach()))
        assert derive_architecture(context=context)["m/act/choice"] == "torch.tanh"


def test_oneshot_runs_one_sampled_function_per_call_and_enas_the_subgraph_one():
    context = TrialContext(StandalonePlatform(architecture={}), mode="oneshot")
    act = choose(context)
    x = torch.linspace(-2, 2, 9)
    with use_context(context):
        seen = {tuple(act(x).tolist()) for _ in range(20)}
    assert seen == {tuple(torch.relu(x).tolist()), tuple(torch.tanh(x).tolist())}
    enas = TrialContext(StandalonePlatform(architecture={"m/act/choice": "torch.relu"}), mode="enas")
    act = choose(enas)
    with use_context(enas):
        assert torch.equal(act(x), torch.relu(x))


def test_architectural_needs_functions_or_numbers():
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts")
    with use_context(context), pytest.raises(TrialError, match="architectural=True needs functions"):
        nas.choice("a", "b", key="m/s/choice", architectural=True)
