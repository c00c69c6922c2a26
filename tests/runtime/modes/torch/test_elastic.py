"""`nas.nn` sizes with shared weights: exact in classic mode, masks in darts, slices in oneshot/enas,
their exact costs, and the planted-width task the darts complexity penalty must solve."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes.torch._cost import CostModel
from nasctl.runtime.trial import StandalonePlatform, TrialContext, derive_architecture, use_context
from nasctl.runtime.trial._value import IntChoice
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import nas
import nas.nn

WIDTHS = (2, 4, 8, 16)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads only contend on a shared machine
    yield
    torch.set_num_threads(threads)


def context(mode: str, architecture: dict | None = None, **options) -> TrialContext:
    config = {mode: options} if options else {}
    return TrialContext(StandalonePlatform(architecture=architecture if architecture is not None else {}),
                        mode=mode, mode_config=config)


def engine(ctx: TrialContext):
    return ctx.backends[0]


# -- classic: exact sizes ---------------------------------------------------------------------------


def test_classic_builds_exactly_the_chosen_size():
    with use_context(context("classic", {"m/w": 8, "m/d": 2, "m/rows": 0.5, "m/dim": 4})):
        width = nas.choice(4, 8, 16, key="m/w")
        assert type(width) is int and width == 8
        linear = nas.nn.Linear(10, width)
        mlp = nas.nn.MLP(10, [width, 12, 6], depth=nas.choice(1, 2, 3, key="m/d"))
        table = nas.nn.Embedding(nas.choice(0.25, 0.5, key="m/rows"), nas.choice(4, 8, key="m/dim"),
                                 cardinality=101)
    reference = nn.Linear(10, 8)
    assert {k: v.shape for k, v in linear.state_dict().items()} == {k: v.shape for k, v in
                                                                   reference.state_dict().items()}
    assert [m.out_features for m in mlp.modules() if isinstance(m, nas.nn.Linear)] == [8, 12]  # depth 2 only
    assert mlp.out_features == 12 and mlp(torch.randn(3, 10)).shape == (3, 12)
    assert table.weight.shape == (51, 4)  # ceil(0.5 * 101) hashed rows of width 4
    index = torch.tensor([0, 51, 100])
    assert torch.equal(table(index), table.weight[index % 51])


def test_plain_sizes_work_in_every_mode_like_torch_modules():
    with use_context(context("darts")):
        linear = nas.nn.Linear(6, 3)
        x = torch.randn(2, 6)
        assert torch.allclose(linear(x), x @ linear.weight.T + linear.bias)


def test_bad_sizes_are_named():
    with use_context(context("classic")):
        with pytest.raises(TrialError, match="nas.nn.Linear out_features must be a positive int"):
            nas.nn.Linear(4, 0)
        with pytest.raises(TrialError, match="a fraction needs 0 < num <= 1 and cardinality="):
            nas.nn.Embedding(0.5, 4)
        with pytest.raises(TrialError, match="depth 4 is more than the 2 widths"):
            nas.nn.MLP(3, [4, 4], depth=4)


# -- one-shot modes: one max-size weight ------------------------------------------------------------


def test_darts_mixes_masks_of_the_options_by_their_weights():
    ctx = context("darts")
    with use_context(ctx):
        width = nas.choice(*WIDTHS, key="m/w")
        assert isinstance(width, IntChoice) and width.options == WIDTHS
        layer = nas.nn.Linear(5, width)
        x = torch.randn(3, 5)
        layer(x)
        state = engine(ctx).weights[("m/w", "")]
        with torch.no_grad():
            state.alpha.copy_(torch.tensor([0.3, -1.0, 2.0, 0.5]))
        y = layer.eval()(x)
    w = torch.softmax(state.alpha.detach(), -1)
    full = x @ layer.weight.T + layer.bias
    # y_j = full_j * sum_{k: size_k > j} w_k
    mask = torch.stack([sum(w[k] for k, size in enumerate(WIDTHS) if size > j) for j in range(16)])
    assert torch.allclose(y, full * mask, atol=1e-6)
    assert layer.weight.shape == (16, 5)


def test_oneshot_trains_a_slice_of_the_shared_weight():
    ctx = context("oneshot")
    with use_context(ctx):
        layer = nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w")).train()
        x = torch.randn(3, 5)
        for _ in range(8):
            y = layer(x)
            nonzero = int((y.abs().sum(0) > 0).sum())
            assert nonzero in WIDTHS and y.shape == (3, 16)
            assert torch.allclose(y[:, :nonzero], x @ layer.weight[:nonzero].T + layer.bias[:nonzero])
        engine(ctx).fix({"m/w": 4})
        assert int((layer(x).abs().sum(0) > 0).sum()) == 4


def test_enas_runs_the_current_subgraph_size():
    ctx = context("enas", {"m/w": 8})
    with use_context(ctx):
        layer = nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w"))
        y = layer(torch.randn(3, 5))
    assert int((y.abs().sum(0) > 0).sum()) == 8
    assert derive_architecture(context=ctx)["m/w"] == 8


def test_per_example_gumbel_samples_differ_within_a_batch():
    ctx = context("darts", sampler="gumbel", per_example=True, temperature=[1.0, 1.0])
    with use_context(ctx):
        layer = nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w")).train()
        layer(torch.randn(6, 5))
        spec = engine(ctx).specs[("m/w", "")]
        weights = engine(ctx).value_weights(spec, torch.zeros(6, 5), True)
    assert weights.shape == (6, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(6))
    assert len({tuple(row.tolist()) for row in weights}) == 6
    shared = TrialContext(StandalonePlatform(architecture={}), mode="darts",
                          mode_config={"darts": {"sampler": "gumbel"}})
    with use_context(shared):
        nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w")).train()(torch.randn(6, 5))
        assert engine(shared).value_weights(engine(shared).specs[("m/w", "")], torch.zeros(6, 5), True).shape == (4,)


def test_per_example_gumbel_on_a_mutable_layer_mixes_each_example_differently():
    from nasctl.runtime.modes.torch import DartsBackend

    backend = DartsBackend({"sampler": "gumbel", "per_example": True, "temperature": [1.0, 1.0]}, seed=0)
    ops = {"one": (lambda xs: xs[0][0] * 0 + 1.0, (), {}), "zero": (lambda xs: xs[0][0] * 0, (), {})}
    with torch.enable_grad():
        out = backend.layer("m/h", "h", ops, [torch.ones(8, 3)], {}, 0)
    per_example = out[:, 0]
    assert len(set(per_example.tolist())) == 8  # each example its own weight of "one"
    assert torch.allclose(out, per_example[:, None].expand(8, 3))


def test_hard_gumbel_runs_one_real_size_per_example_with_the_soft_samples_gradient():
    ctx = context("darts", sampler="gumbel", per_example=True, hard=True, temperature=[1.0, 1.0])
    with use_context(ctx):
        layer = nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w")).train()
        x = torch.randn(64, 5)
        out = layer(x)
        backend = engine(ctx)
        spec = backend.specs[("m/w", "")]
        weights = backend.value_weights(spec, x, True)
    one_hot = (weights.detach() > 0.5).to(weights.dtype)  # the value is one-hot up to rounding of 1 - s + s
    assert torch.allclose(weights.detach(), one_hot) and torch.equal(one_hot.sum(-1), torch.ones(64))
    full = torch.nn.functional.linear(x, layer.weight, layer.bias).detach()
    widths = (out.detach() != 0).sum(-1)  # each example: exactly the first `size` outputs of one option
    assert set(widths.tolist()) <= set(WIDTHS)
    for row, width in zip(range(64), widths.tolist(), strict=True):
        assert torch.allclose(out[row, :width], full[row, :width])
    (alpha,) = backend.arch_parameters()
    (grad,) = torch.autograd.grad(out.sum(), alpha)
    assert grad.abs().sum() > 0  # straight-through: the soft sample carries the gradient to alpha


def test_hard_needs_the_gumbel_sampler():
    from nasctl.runtime.modes._options import DartsOptions

    with pytest.raises(ConfigError, match="sampler: gumbel") as error:
        DartsOptions.parse({"hard": True})
    assert error.value.key == "darts.hard"
    with pytest.raises(ConfigError, match="true or false"):
        DartsOptions.parse({"sampler": "gumbel", "hard": "yes"})


# -- costs -------------------------------------------------------------------------------------------


def flops_per_example(module: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() / x.shape[0]


def test_params_and_flops_of_every_option_match_hand_built_modules():
    ctx = context("oneshot")
    with use_context(ctx):
        width = nas.choice(*WIDTHS, key="m/w")
        model = nn.Sequential(nas.nn.Linear(10, width), nn.ReLU(), nas.nn.Linear(width, 3))
        model(torch.randn(4, 10))
    backend = engine(ctx)
    for size in WIDTHS:
        built = nn.Sequential(nn.Linear(10, size), nn.ReLU(), nn.Linear(size, 3))
        params = sum(p.numel() for p in built.parameters())
        assert backend.parameters_of({"m/w": size}) == params
        flops = CostModel("flops").of_architecture(backend.costs, backend.specs, {"m/w": size})
        assert flops == flops_per_example(built, torch.randn(4, 10))


def test_mlp_depth_counts_only_the_layers_it_keeps():
    ctx = context("oneshot")
    with use_context(ctx):
        width = nas.choice(4, 8, key="m/w")
        mlp = nas.nn.MLP(6, [width, width, 5], depth=nas.choice(1, 2, 3, key="m/d"))
        mlp(torch.randn(2, 6))
    backend = engine(ctx)
    for size in (4, 8):
        for depth in (1, 2, 3):
            widths = [size, size, 5][:depth]
            built = nn.Sequential(*[nn.Linear(a, b) for a, b in zip([6, *widths], widths, strict=False)])
            assert backend.parameters_of({"m/w": size, "m/d": depth}) == sum(p.numel() for p in built.parameters())


def test_mlp_layers_of_fixed_width_count_under_a_depth_choice():
    ctx = context("oneshot")
    with use_context(ctx):
        mlp = nas.nn.MLP(6, [8, 5], depth=nas.choice(1, 2, key="m/d"))
        mlp(torch.randn(2, 6))
    assert engine(ctx).parameters_of({"m/d": 1}) == 6 * 8 + 8
    assert engine(ctx).parameters_of({"m/d": 2}) == 6 * 8 + 8 + 8 * 5 + 5


def test_embedding_costs_rows_times_dim():
    ctx = context("oneshot")
    with use_context(ctx):
        table = nas.nn.Embedding(nas.choice(0.5, 1.0, key="m/rows"), nas.choice(4, 8, key="m/dim"), cardinality=10)
        table(torch.tensor([1, 7]))
    assert engine(ctx).parameters_of({"m/rows": 0.5, "m/dim": 8}) == 5 * 8


def test_function_candidates_count_the_modules_they_use():
    from nasctl.runtime.modes.torch import DartsBackend

    projection = nn.Linear(3, 3)
    backend = DartsBackend({"complexity": {"weight": 1.0}}, seed=0)
    ops = {"project(proj)": (lambda xs, m: m(xs[0][0]), (projection,), {}),
           "identity()": (lambda xs: xs[0][0], (), {})}
    backend.layer("m/h", "h", ops, [torch.ones(2, 3)], {}, 0)
    assert backend.costs["m/h/h"].params.tolist() == [12.0, 0.0]


def test_log_form_is_coef_times_log_of_the_expected_cost():
    model = CostModel("params", form="log", coef=0.5)
    expected = torch.tensor(100.0, dtype=torch.float64)
    assert float(model.penalty(expected)) == pytest.approx(0.5 * torch.log(expected).item())


def test_table_and_callable_costs():
    from nasctl.runtime.modes._spec import LayerSpec

    specs = {("m/w", ""): LayerSpec.of_value("m/w", (4, 8))}
    probabilities = {("m/w", ""): torch.tensor([0.25, 0.75])}
    table = CostModel("table", table={"m/w": {"4": 1.0, "8": 3.0}})
    assert float(table.expected({}, specs, probabilities)) == pytest.approx(0.25 * 1.0 + 0.75 * 3.0)
    by_call = CostModel(lambda where, label: label * 10.0)
    assert float(by_call.expected({}, specs, probabilities)) == pytest.approx(0.25 * 40 + 0.75 * 80)
    with pytest.raises(Exception, match=r"no cost for option 8 of 'm/w'"):
        CostModel("table", table={"m/w": {"4": 1.0}}).expected({}, specs, probabilities)


# -- the darts penalty on a planted width -----------------------------------------------------------


def planted_width(weight: float, seed: int) -> int:
    """Targets `x A^T B^T` (rank 4) plus a small full-rank part; `Linear(16, w) -> Linear(w, 16)`, w in 2..16.

    Width 2 cannot fit the rank-4 part; 4 fits all but the small part, which only widths 8 and 16
    can add. Without a penalty the widest wins; with one, the smallest that fits.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    a, b = torch.randn(4, 16, generator=g), torch.randn(16, 4, generator=g) / 2
    c = 0.05 * torch.randn(16, 16, generator=g)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(64, 16, generator=g)
        return x, x @ a.T @ b.T + x @ c.T

    options = {"sampler": "gumbel", "per_example": True, "temperature": [1.0, 0.2], "anneal_steps": 300,
               "warmup": 150, "optimizer": {"lr": 0.05}, "report_every": 0,
               "complexity": {"metric": "params", "weight": weight}}
    ctx = context("darts", **options)
    with use_context(ctx):
        width = nas.choice(*WIDTHS, key="t/width")
        model = nn.Sequential(nas.nn.Linear(16, width), nas.nn.Linear(width, 16))
        model(batch()[0])
        optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
        for _ in range(400):
            x, y = batch()
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
            x, y = batch()
            ctx.training_update(loss=nn.functional.mse_loss(model(x), y))
        return derive_architecture(context=ctx)["t/width"]


@pytest.mark.parametrize("seed", [0, 1])
def test_params_penalty_finds_the_smallest_width_that_fits_and_no_penalty_the_widest(seed):
    assert planted_width(0.001, seed) == 4
    assert planted_width(0.0, seed) == 16


@pytest.mark.parametrize("per_example", [False, True])
def test_masked_linear_gradients_match_autograd_of_the_formula(per_example):
    from nasctl.runtime.modes.torch._elastic import _MaskedLinear

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    weight = torch.randn(4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, generator=g, requires_grad=True)
    shape = (3, 1, 4) if per_example else (4,)
    mask = torch.rand(shape, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(_MaskedLinear.apply, (x, weight, bias, mask))
    reference = torch.autograd.grad(((x @ weight.T + bias) * mask).square().sum(), (x, weight, bias, mask))
    ours = torch.autograd.grad(_MaskedLinear.apply(x, weight, bias, mask).square().sum(), (x, weight, bias, mask))
    assert all(torch.allclose(a, b) for a, b in zip(ours, reference, strict=True))


def test_darts_samples_relaxed_variables_from_their_learned_distribution():
    ctx = context("darts")
    with use_context(ctx):
        layer = nas.nn.Linear(5, nas.choice(*WIDTHS, key="m/w"))
        layer(torch.randn(2, 5))
        backend = engine(ctx)
        with torch.no_grad():
            backend.weights[("m/w", "")].alpha.copy_(torch.tensor([-20.0, -20.0, 20.0, -20.0]))
        values = backend.arch_weight_values()
        samples = backend.sample_architectures(5, seed=0)
    assert values["m/w"]["choice"]["8"] == pytest.approx(1.0)
    assert samples == [{"m/w": 8}] * 5
