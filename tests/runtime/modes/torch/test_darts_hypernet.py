"""darts with alpha(lambda) (DARTS-CC): the penalty's gradient, lambda per step, the budget's architecture."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes import _hypernet
from nasctl.runtime.modes.torch import DartsBackend
from nasctl.runtime.modes.torch._cost import CostModel
from nasctl.runtime.trial import StandalonePlatform, TrialContext, use_context
from torch import nn

import nas
import nas.nn

LOW, HIGH = 1e-4, 1.0


def _backend(hypernet: dict | None = None, **options) -> DartsBackend:
    complexity = {"metric": "params", "hypernet": hypernet or {"knots": 4}, "lambda": [LOW, HIGH]}
    complexity.update(options.pop("complexity", {}))
    return DartsBackend({"complexity": complexity, "optimizer": {"lr": 0.05, "weight_decay": 0.0}, **options},
                        seed=0)


def _penalty_and_fd(backend: DartsBackend, theta: torch.Tensor, eps: float = 1e-6):
    grad = torch.autograd.grad(backend._penalty(), [theta])[0]
    fd = torch.zeros_like(theta)
    with torch.no_grad():
        for i in range(theta.numel()):
            theta.view(-1)[i] += eps
            plus = float(backend._penalty())
            theta.view(-1)[i] -= 2 * eps
            minus = float(backend._penalty())
            theta.view(-1)[i] += eps
            fd.view(-1)[i] = (plus - minus) / (2 * eps)  # (P(theta + eps) - P(theta - eps)) / 2 eps
    return grad, fd


@pytest.mark.parametrize("form", ["linear", "log"])
@pytest.mark.parametrize("hypernet", [{"knots": 4}, {"mlp": 3}])
def test_penalty_gradient_matches_finite_differences(kit, form, hypernet):
    backend = _backend(hypernet, complexity={"form": form})
    model = kit.Net(backend)
    task = kit.Task(0)
    model(*task.batch()[:3])
    backend._move_to(torch.device("cpu"), torch.float64)
    theta = backend.arch_parameters()[0]
    with torch.no_grad():
        theta.add_(0.5 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    backend.t = 0.3
    grad, fd = _penalty_and_fd(backend, theta)
    assert grad.abs().max() > 1e-6
    assert grad.tolist() == pytest.approx(fd.tolist(), rel=1e-5, abs=1e-8)


def test_penalty_gradient_reaches_only_the_two_knots_around_lambda(kit):
    backend = _backend({"knots": 4})
    model = kit.Net(backend)
    model(*kit.Task(0).batch()[:3])
    backend._move_to(torch.device("cpu"), torch.float64)
    theta = backend.arch_parameters()[0]
    with torch.no_grad():
        theta.add_(0.5 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    backend.t = 0.3  # s = 0.9: knots 0 and 1, w = 0.9
    grad = torch.autograd.grad(backend._penalty(), [theta])[0].view(4, 3)
    costs = torch.tensor([12.0, 12.0, 4.0], dtype=torch.float64)  # Conv(3), Conv(3, dilation=2), Conv(1)
    alpha = 0.1 * theta.detach().view(4, 3)[0] + 0.9 * theta.detach().view(4, 3)[1]
    p = torch.softmax(alpha, dim=0)
    lam = LOW * (HIGH / LOW) ** 0.3
    d_alpha = lam * p * (costs - (p * costs).sum())  # d(lam * sum p_i c_i)/d alpha = lam * p * (c - E[c])
    assert grad[0].tolist() == pytest.approx((0.1 * d_alpha).tolist())
    assert grad[1].tolist() == pytest.approx((0.9 * d_alpha).tolist())
    assert grad[2:].abs().max() == 0.0


def test_the_weight_step_and_the_architecture_step_share_lambda(kit):
    backend = _backend(report_every=1)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    task = kit.Task(0)
    drawn = set()
    for _ in range(5):
        t = backend.t
        drawn.add(t)
        val = task.loss(model, task.val)  # the forward runs at this step's lambda
        expected_penalty = float(backend.hypernet.lam(t) * backend.expected_cost(t=t).detach())
        backend.training_update(loss=val)
        assert reports[-1]["default"] == pytest.approx(float(val.detach()) + expected_penalty)
    assert len(drawn) == 5 and all(0.0 <= t <= 1.0 for t in drawn)


def test_expected_parameters_fall_as_lambda_rises(kit):
    backend = _backend({"knots": 4}, sampler="gumbel", per_example=True, temperature=[1.0, 0.5],
                       anneal_steps=200)
    model = kit.Net(backend)
    task = kit.Task(0)
    model(*task.batch()[:3])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(200):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
        backend.training_update(loss=task.loss(model, task.batch()))
    params = [float(backend.expected_cost(CostModel("params"), t=t).detach()) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    # non-increasing, up to the noise of a saturated end (both ends sit near 12 and near 4)
    assert all(a >= b - 0.25 for a, b in zip(params, params[1:], strict=False)), params
    assert params[0] - params[-1] > 4.0, params  # Conv(1) has 4 parameters, the others 12
    assert backend.derived_architecture(lam=1.0)[kit.BLOCK]["h"]["chosen_layer"] == "Conv(1)"
    assert backend.derived_architecture(lam=0.0)[kit.BLOCK]["h"]["chosen_layer"] == "Conv(3)"


def test_the_reported_state_derives_what_the_trial_derives(kit):
    backend = _backend(report_every=1)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    task = kit.Task(0)
    model(*task.batch()[:3])
    with torch.no_grad():
        for theta in backend.arch_parameters():
            theta.add_(torch.randn(theta.shape, generator=torch.Generator().manual_seed(3)))
    backend.training_update(loss=task.loss(model, task.val))
    state = reports[-1]["hypernet"]
    assert state["kind"] == "knots" and state["lambda"] == [LOW, HIGH] and len(state["layers"]) == 1
    for t in (0.0, 0.4, 1.0):
        found = _hypernet.derive(state, t)
        assert found.architecture == backend.derived_architecture(lam=t)
        assert found.expected_cost == pytest.approx(float(backend.expected_cost(t=t).detach()), rel=1e-5)


def test_deriving_reports_the_last_state_once(kit):
    backend = _backend(report_every=100)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    task = kit.Task(0)
    backend.training_update(loss=task.loss(model, task.val))
    assert reports == []
    backend.derived_architecture(lam=0.2)
    backend.derived_architecture()
    assert len(reports) == 1 and reports[0]["step"] == 1 and "hypernet" in reports[0]
    assert backend.derive_t == 0.2


def test_derive_at_a_budget_needs_the_hypernet(kit):
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts", mode_config={"darts": {}})
    with use_context(context):
        model = nn.Sequential(nas.nn.Linear(8, nas.choice(4, 8, key="m/w")), nn.ReLU())
        model(torch.randn(2, 8))
        with pytest.raises(TrialError, match=r"derive_architecture\(lam=\.\.\.\) .* needs darts mode with "
                                             r"darts.complexity.hypernet"):
            nas.derive_architecture(lam=0.5)
    context = TrialContext(StandalonePlatform(architecture={}), mode="darts",
                           mode_config={"darts": {"complexity": {"hypernet": {"knots": 3}, "lambda": [1e-3, 1.0]}}})
    with use_context(context):
        model = nn.Sequential(nas.nn.Linear(8, nas.choice(4, 8, key="m/w")), nn.ReLU())
        model(torch.randn(2, 8))
        assert nas.derive_architecture(lam=0.0)["m/w"] in (4, 8)
        with pytest.raises(TrialError, match=r"lam is the normalised complexity parameter, a number in \[0, 1\]"):
            nas.derive_architecture(lam=2.0)


@pytest.mark.parametrize(("complexity", "key", "message"), [
    ({"hypernet": {"knots": 8}, "lambda": [1e-4, 1e-1], "weight": 1e-3}, "darts.complexity.weight",
     "with hypernet the penalty's coefficient is lambda"),
    ({"lambda": [1e-4, 1e-1]}, "darts.complexity.hypernet", "add hypernet"),
    ({"hypernet": {"knots": 8}}, "darts.complexity.lambda", "needs the range"),
])
def test_options_name_the_key(complexity, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        DartsBackend({"complexity": complexity})
    assert info.value.key == key


def test_a_table_cost_is_penalised_and_exported(kit):
    table = {f"{kit.BLOCK}/h": {"Conv(3)": 5.0, "Conv(3, dilation=2)": 7.0, "Conv(1)": 1.0}}
    backend = _backend(complexity={"metric": "table", "table": table})
    model = kit.Net(backend)
    model(*kit.Task(0).batch()[:3])
    backend._move_to(torch.device("cpu"), torch.float64)
    theta = backend.arch_parameters()[0]
    with torch.no_grad():
        theta.add_(0.5 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64))
    backend.t = 0.8
    grad, fd = _penalty_and_fd(backend, theta)
    assert grad.abs().max() > 1e-6 and grad.tolist() == pytest.approx(fd.tolist(), rel=1e-5, abs=1e-8)
    state = backend.hypernet_state()
    assert state["metric"] == "table" and state["costs"]["table"] == [{"axes": [0], "table": [5.0, 7.0, 1.0]}]
    found = _hypernet.derive(state, 0.8)
    assert found.expected_cost == pytest.approx(float(backend.expected_cost(t=0.8).detach()))
    assert found.params == {"Conv(3)": 12, "Conv(3, dilation=2)": 12, "Conv(1)": 4}[
        found.architecture[kit.BLOCK]["h"]["chosen_layer"]]
