"""alpha(lambda): the knots' interpolation, the MLP, numpy against torch, deriving at a budget."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes._hypernet import HypernetOptions, check_t, derive, evaluate, frontier, knot_position


def test_alpha_is_the_knot_value_at_each_knot_and_linear_between():
    options = HypernetOptions("knots", 5, 1e-4, 1e-1)
    rng = np.random.default_rng(0)
    table = rng.normal(size=(5, 3))
    for k in range(5):
        assert evaluate(options, table.ravel(), 3, k / 4) == pytest.approx(table[k])  # alpha(t_k) = A[k]
    between = evaluate(options, table.ravel(), 3, 0.3)  # t = 0.3: s = 1.2, between knots 1 and 2
    assert between == pytest.approx(0.8 * table[1] + 0.2 * table[2])


@pytest.mark.parametrize(("t", "expected"), [(0.0, (0, 0.0)), (1.0, (5, 1.0)), (0.5, (3, 0.0)), (0.55, (3, 0.3))])
def test_knot_position(t, expected):
    i, w = knot_position(t, 7)
    assert i == expected[0] and w == pytest.approx(expected[1])


def test_mlp_alpha_follows_its_formula():
    options = HypernetOptions("mlp", 4, 1e-4, 1e-1)
    n, h = 3, 4
    theta = np.arange(options.n_params(n), dtype=float) / 10.0 - 1.0
    w1, b1 = theta[:h], theta[h:2 * h]
    w2, b2 = theta[2 * h:2 * h + n * h].reshape(n, h), theta[2 * h + n * h:]
    expected = w2 @ np.tanh(w1 * 0.7 + b1) + b2
    assert evaluate(options, theta, n, 0.7) == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["knots", "mlp"])
def test_torch_and_numpy_agree(kind):
    torch = pytest.importorskip("torch")
    from nasctl.runtime.modes.torch._hypernet import evaluate as torch_evaluate
    from nasctl.runtime.modes.torch._hypernet import init_theta

    options = HypernetOptions(kind, 6, 1e-4, 1e-1)
    theta = init_theta(options, 4, torch.Generator().manual_seed(0))
    theta = theta + 0.1 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(1))
    assert theta.numel() == options.n_params(4)
    for t in (0.0, 0.13, 0.5, 0.99, 1.0):
        assert torch_evaluate(options, theta, 4, t).tolist() == pytest.approx(evaluate(options, theta.tolist(), 4, t))


def test_knots_start_equal_at_every_lambda():
    torch = pytest.importorskip("torch")
    from nasctl.runtime.modes.torch._hypernet import init_theta

    options = HypernetOptions("knots", 8, 1e-4, 1e-1)
    theta = init_theta(options, 5, torch.Generator().manual_seed(0)).view(8, 5)
    assert torch.equal(theta[0], theta[7]) and theta.abs().max() < 0.01


def test_lambda_is_log_uniform_between_its_ends():
    options = HypernetOptions("knots", 8, 1e-4, 1e-1)
    assert options.lam(0.0) == pytest.approx(1e-4) and options.lam(1.0) == pytest.approx(1e-1)
    assert options.lam(0.5) == pytest.approx(math.sqrt(1e-4 * 1e-1))
    assert options.normalised(options.lam(0.3)) == pytest.approx(0.3)


@pytest.mark.parametrize(("hypernet", "lam", "key", "message"), [
    ({"knots": 1}, [1e-4, 1e-1], "darts.complexity.hypernet.knots", r"an integer in \[2, 4096\]"),
    ({"spline": 3}, [1e-4, 1e-1], "darts.complexity.hypernet", r"\{knots: K\}"),
    ({"knots": 8}, None, "darts.complexity.lambda", "lambda: \\[low, high\\]"),
    ({"knots": 8}, [1e-1, 1e-4], "darts.complexity.lambda", "0 < low < high"),
    ({"mlp": 16}, [0, 1e-1], "darts.complexity.lambda", "0 < low < high"),
])
def test_options_are_checked(hypernet, lam, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        HypernetOptions.parse(hypernet, lam)
    assert info.value.key == key


def test_t_must_be_normalised():
    assert check_t(1) == 1.0
    with pytest.raises(TrialError, match=r"lam is the normalised complexity parameter, a number in \[0, 1\]"):
        check_t(1e-3 * 2000)


def _spec(layer: str, labels: list[str]) -> dict:
    return {"block_key": "m/b", "layer_key": layer, "labels": labels, "input_labels": [], "input_low": 0,
            "input_high": 0, "variable": False}


def _state() -> dict:
    # Layer h1: "big" wins below t = 0.5, "none" above (knots at t = 0, 0.5, 1). Layer h2: "small" always.
    return {
        "lambda": [1e-4, 1e-1], "kind": "knots", "size": 3, "metric": "params", "form": "linear",
        "layers": [
            {"spec": _spec("h1", ["big", "none"]), "alpha": [2.0, 0.0, 1.0, 1.0, 0.0, 2.0], "beta": None},
            {"spec": _spec("h2", ["small", "big"]), "alpha": [1.0, 0.0] * 3, "beta": None},
        ],
        "costs": {"params": [{"axes": [0], "table": [100.0, 0.0]}, {"axes": [1], "table": [10.0, 100.0]},
                             {"axes": [], "table": 7.0}]},
    }


def test_derive_gives_the_argmax_and_its_costs():
    low = derive(_state(), 0.0)
    assert low.architecture == {"m/b": {"h1": {"chosen_layer": "big", "chosen_inputs": []},
                                        "h2": {"chosen_layer": "small", "chosen_inputs": []}}}
    assert low.cost == 117.0 and low.params == 117.0 and low.lam == pytest.approx(1e-4)
    p1 = 1 / (1 + math.exp(-2.0))  # softmax([2, 0])[0]
    p2 = 1 / (1 + math.exp(-1.0))  # softmax([1, 0])[0]
    assert low.expected_cost == pytest.approx(100 * p1 + 10 * p2 + 100 * (1 - p2) + 7)
    high = derive(_state(), 1.0)
    assert high.architecture["m/b"]["h1"]["chosen_layer"] == "none" and high.params == 17.0


def test_frontier_lists_each_distinct_architecture_once_in_order_of_lambda():
    found = frontier(_state(), 5)
    assert [d.architecture["m/b"]["h1"]["chosen_layer"] for d in found] == ["big", "none"]
    assert found[0].t < 0.5 < found[1].t
    assert len(frontier(_state(), 1)) == 1
    with pytest.raises(TrialError, match="positive integer"):
        frontier(_state(), 0)
