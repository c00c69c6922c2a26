"""darts: recovery on the synthetic task, gumbel, complexity penalty, second order, separation."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes.torch import DartsBackend
from torch import nn

FAST = {"optimizer": {"lr": 0.05}}


def train(kit, seed: int, options: dict, steps: int = 300) -> tuple[DartsBackend, nn.Module]:
    """First-order darts on the task: a weight step on a training batch, then an architecture step."""
    task = kit.Task(seed)
    torch.manual_seed(seed)
    backend = DartsBackend(options, seed=seed)
    model = kit.Net(backend)
    model(*task.batch()[:3])  # candidates exist after the first forward
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
        backend.training_update(loss=task.loss(model, task.batch()))
    return backend, model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gumbel_darts_recovers_the_target(kit, seed):
    backend, _ = train(kit, seed, {**FAST, "sampler": "gumbel", "anneal_steps": 300})
    assert backend.derived_architecture() == kit.TARGET
    assert backend.temperature() == pytest.approx(0.1)


def test_gumbel_temperature_anneals_from_start_to_end():
    backend = DartsBackend({"sampler": "gumbel", "temperature": [5.0, 0.1], "anneal_steps": 100})
    assert backend.temperature() == pytest.approx(5.0)
    backend.steps = 50
    assert backend.temperature() == pytest.approx(5.0 * (0.1 / 5.0) ** 0.5)
    backend.steps = 1000
    assert backend.temperature() == pytest.approx(0.1)


def test_large_complexity_weight_moves_darts_to_the_smallest_candidate(kit):
    backend, _ = train(kit, 0, {**FAST, "complexity": {"metric": "params", "weight": 1.0}}, steps=150)
    assert backend.derived_architecture()[kit.BLOCK]["h"]["chosen_layer"] == "Conv(1)"
    # Conv(3) and Conv(3, dilation=2) have 12 weights each, Conv(1) has 4.
    assert backend.costs[f"{kit.BLOCK}/h"].params.tolist() == [12.0, 12.0, 4.0]
    assert float(backend.expected_parameters().detach()) < 5.0


def test_arch_weights_are_never_model_parameters(kit):
    backend, model = train(kit, 0, FAST, steps=2)
    arch = {id(p) for p in backend.arch_parameters()}
    assert len(arch) == 2  # alpha and beta of the one layer
    assert not arch & {id(p) for p in model.parameters()}
    assert not any("alpha" in name or "beta" in name for name in model.state_dict())
    assert len(model.nas_candidates) == 3


def test_architecture_step_leaves_model_gradients_alone_and_the_loss_usable(kit):
    task = kit.Task(0)
    backend = DartsBackend(FAST, seed=0)
    model = kit.Net(backend)
    loss = task.loss(model, task.batch())
    before = [p.detach().clone() for p in backend.arch_parameters()]
    backend.training_update(loss=loss)
    assert all(p.grad is None for p in model.parameters())
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, backend.arch_parameters(), strict=True))
    loss.backward()  # the graph was kept for the script's own backward
    assert model.scale.grad is not None


def test_default_architecture_optimizer_is_adam_with_the_darts_settings(kit):
    task = kit.Task(0)
    backend = DartsBackend(seed=0)
    model = kit.Net(backend)
    backend.training_update(loss=task.loss(model, task.batch()))
    group = backend.optimizer.param_groups[0]
    assert isinstance(backend.optimizer, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["weight_decay"]) == (3e-4, (0.5, 0.999), 1e-3)


def test_arch_weights_are_reported_as_intermediate_data(kit):
    task = kit.Task(0)
    backend = DartsBackend({"report_every": 2}, seed=0)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    for _ in range(4):
        backend.training_update(loss=task.loss(model, task.batch()))
    assert [r["step"] for r in reports] == [2, 4]
    assert set(reports[0]["arch_weights"][kit.BLOCK]["h"]["layer"]) == set(kit.CANDIDATES)
    assert isinstance(reports[0]["default"], float)


def test_deriving_reports_the_final_weights_when_the_last_report_is_older(kit):
    task = kit.Task(0)
    backend = DartsBackend({"report_every": 2}, seed=0)
    reports = []
    backend.reporter = reports.append
    model = kit.Net(backend)
    for _ in range(5):
        loss = task.loss(model, task.batch())
        backend.training_update(loss=loss)
    backend.derived_architecture()
    backend.derived_architecture()  # nothing new since: no second report
    assert [r["step"] for r in reports] == [2, 4, 5]
    assert reports[-1]["arch_weights"] == backend.arch_weight_values()
    assert "hypernet" not in reports[-1] and isinstance(reports[-1]["default"], float)


def test_sampled_architectures_follow_the_learned_distribution(kit):
    backend, _ = train(kit, 0, FAST)
    samples = backend.sample_architectures(200, seed=1)
    share = sum(s[kit.BLOCK]["h"]["chosen_layer"] == "Conv(3)" for s in samples) / len(samples)
    p = backend.arch_weight_values()[kit.BLOCK]["h"]["layer"]["Conv(3)"]
    assert abs(share - p) < 0.12
    assert all(len(s[kit.BLOCK]["h"]["chosen_inputs"]) <= 1 for s in samples)


def test_state_dict_save_and_load_round_trip(kit, tmp_path):
    backend, model = train(kit, 0, FAST, steps=3)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    other = kit.Net(DartsBackend(FAST, seed=5))
    task = kit.Task(0)
    other(*task.batch()[:3])
    other.load_state_dict(torch.load(tmp_path / "model.pt"))
    for name, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[name])


# -- second order ---------------------------------------------------------------------------------


class Lin(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.3, -0.2], dtype=torch.float64))
        self.scale = scale

    def forward(self, inputs):
        fixed, chosen = inputs
        h = fixed[0] + sum(chosen)
        return torch.tanh(self.scale * h @ self.w)


class Tiny(nn.Module):
    def __init__(self, backend: DartsBackend) -> None:
        super().__init__()
        self.backend = backend
        self.cands = {"Lin(1)": (Lin, (), {"scale": 1.0}), "Lin(2)": (Lin, (), {"scale": 2.0})}

    def forward(self, x, s):
        return self.backend.layer("t/h", "h", self.cands, [x], {"s": s}, [0, 1], self)


def test_second_order_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(0)
    xt, st, yt = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g,
                 dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    xv, sv, yv = (torch.randn(8, 2, generator=g, dtype=torch.float64),
                  torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64))
    backend = DartsBackend({"order": 2}, seed=0)
    model = Tiny(backend)
    model(xt, st)
    with torch.no_grad():
        for p, v in zip(backend.arch_parameters(), ([0.2, -0.4], [0.3]), strict=True):
            p.copy_(torch.tensor(v, dtype=p.dtype))
    xi = 0.5

    def train_loss():
        return ((model(xt, st) - yt) ** 2).mean()

    def val_loss():
        return ((model(xv, sv) - yv) ** 2).mean()

    got = torch.cat(backend.unrolled_gradient(val_loss, train_loss, model, xi))
    weights = list(model.parameters())
    start = [w.detach().clone() for w in weights]

    def unrolled_objective() -> float:
        # L_val(w - xi * dL_train(w, alpha)/dw, alpha), with the inner gradient exact.
        grads = torch.autograd.grad(train_loss(), weights)
        with torch.no_grad():
            for w, s, gr in zip(weights, start, grads, strict=True):
                w.copy_(s - xi * gr)
            value = float(val_loss())
            for w, s in zip(weights, start, strict=True):
                w.copy_(s)
        return value

    reference = []
    h = 1e-5
    for p in backend.arch_parameters():
        for i in range(p.numel()):
            with torch.no_grad():
                p.view(-1)[i] += h
            up = unrolled_objective()
            with torch.no_grad():
                p.view(-1)[i] -= 2 * h
            down = unrolled_objective()
            with torch.no_grad():
                p.view(-1)[i] += h
            reference.append((up - down) / (2 * h))
    reference = torch.tensor(reference, dtype=torch.float64)
    assert torch.allclose(got, reference, rtol=1e-3, atol=1e-6), (got, reference)
    first_order = torch.cat([g.reshape(-1) for g in torch.autograd.grad(val_loss(), backend.arch_parameters())])
    assert not torch.allclose(first_order, reference, rtol=1e-2)  # the second-order term matters here
    assert all(torch.equal(w, s) for w, s in zip(weights, start, strict=True))  # weights restored


def test_second_order_needs_closures_model_and_lr():
    backend = DartsBackend({"order": 2})
    model = Tiny(backend)
    x = torch.randn(4, 2, dtype=torch.float64)
    loss = model(x, x).sum()
    with pytest.raises(TrialError, match="order 2: call training_update\\(loss=<closure"):
        backend.training_update(loss=loss)


def test_second_order_training_update_takes_a_step():
    backend = DartsBackend({"order": 2, "optimizer": {"lr": 0.1}})
    model = Tiny(backend)
    x, y = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    model(x, x)
    before = [p.detach().clone() for p in backend.arch_parameters()]
    backend.training_update(loss=lambda: ((model(x, x) - y) ** 2).mean(),
                            train_loss=lambda: ((model(x, -x) - y) ** 2).mean(), model=model, lr=0.1)
    assert any(not torch.equal(b, p) for b, p in zip(before, backend.arch_parameters(), strict=True))


# -- user errors ----------------------------------------------------------------------------------


def test_training_update_without_loss_says_what_to_pass(kit):
    backend = DartsBackend()
    kit.Net(backend)(*kit.Task(0).batch()[:3])
    with pytest.raises(TrialError, match="darts mode: training_update\\(\\) needs loss="):
        backend.training_update()


def test_training_update_before_any_layer_says_run_a_forward_first():
    with pytest.raises(TrialError, match="before any mutable layer ran"):
        DartsBackend().training_update(loss=torch.zeros(()))


def test_unknown_training_update_argument_is_named():
    with pytest.raises(TrialError, match="unknown argument\\(s\\) feed_dict"):
        DartsBackend().training_update(loss=torch.zeros(()), feed_dict={})


@pytest.mark.parametrize(("options", "key"), [
    ({"order": 3}, "darts.order"),
    ({"sampler": "hard"}, "darts.sampler"),
    ({"temperature": [5.0]}, "darts.temperature"),
    ({"optimizer": {"lr": -1}}, "darts.optimizer.lr"),
    ({"optimizer": {"momentum": 1.5}}, "darts.optimizer.momentum"),
    ({"optimizer": {"name": "rmsprop"}}, "darts.optimizer.name"),
    ({"complexity": {"metric": "latency", "weight": 1}}, "darts.complexity.metric"),
    ({"complexity": {"metric": "table", "weight": 1}}, "darts.complexity.table"),
    ({"complexity": {"form": "square"}}, "darts.complexity.form"),
    ({"temperature": {"start": 1.0, "decay": 1.5}}, "darts.temperature.decay"),
    ({"temperature": {"start": 1.0, "end": 0.1}}, "darts.temperature.epochs"),
    ({"warmup": -1}, "darts.warmup"),
    ({"per_example": "yes"}, "darts.per_example"),
    ({"orders": 2}, "darts.orders"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        DartsBackend(options)
