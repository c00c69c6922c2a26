"""oneshot: path dropout and single-path training, derivation by random and evolutionary search."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import ArchitectureError, ConfigError, TrialError
from nasctl.runtime.modes.torch import OneShotBackend, OneShotOptions
from torch import nn

_TRAINED: dict[tuple, tuple] = {}


def trained(kit, seed: int, strategy: str) -> tuple[OneShotBackend, nn.Module, object]:
    """A supernet trained for 200 steps, shared by the tests that only derive from it."""
    key = (seed, strategy)
    if key not in _TRAINED:
        _TRAINED[key] = train(kit, seed, {"strategy": strategy}, steps=200)
    return _TRAINED[key]


def train(kit, seed: int, options: dict, steps: int = 200) -> tuple[OneShotBackend, nn.Module, object]:
    task = kit.Task(seed)
    torch.manual_seed(seed)
    backend = OneShotBackend(options, seed=seed)
    model = kit.Net(backend)
    model(*task.batch()[:3])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
    model.eval()
    return backend, model, task


@pytest.mark.parametrize("seed", [0, 1])
def test_oneshot_recovers_the_target_by_evolution(kit, seed):
    backend, model, task = trained(kit, seed, "single_path")
    backend.config = OneShotOptions.parse({"population": 4, "sample_size": 2})
    calls = []
    evaluate = task.evaluator(model)
    assert backend.derive(lambda: calls.append(1) or evaluate(), budget=24, search="evolution") == kit.TARGET
    assert len(calls) <= 9  # 3 candidates x 3 input sets: each subnet is scored once


def test_minimize_mode_picks_the_lowest_score(kit):
    backend, model, task = trained(kit, 0, "single_path")
    evaluate = task.evaluator(model)
    assert backend.derive(lambda: -evaluate(), budget=30, maximize=False) == kit.TARGET
    backend.config = OneShotOptions.parse({"optimize_mode": "minimize"})
    assert backend.derive(lambda: -evaluate(), budget=30) == kit.TARGET


def test_dropout_rate_makes_dropping_everything_probability_r():
    backend = OneShotBackend({"r": 0.05})
    for k in (1, 2, 7):
        assert backend.drop_rate(k) ** k == pytest.approx(0.05)
    assert backend.drop_rate(2) == pytest.approx(0.2236, abs=1e-4)  # the seed's example


def test_dropout_drops_paths_at_the_configured_rate():
    calls = {"a": 0, "b": 0, "c": 0}
    seen_inputs = []

    def op(name):
        def run(inputs):
            calls[name] += 1
            seen_inputs.append([float(x.sum()) for x in inputs[1]])
            return inputs[0][0] + 1.0
        return (run, (), {})

    backend = OneShotBackend({"r": 0.01}, seed=0)
    ones = torch.ones(3)
    zeros = 0
    n = 3000
    rate = 0.01 ** (1 / 3)
    outputs = []
    for _ in range(n):
        out = backend.layer("m/h", "h", {"a": op("a"), "b": op("b"), "c": op("c")}, [ones],
                            {"x": ones, "y": ones}, [0, 2], None)
        zeros += int(torch.all(out == 0))
        outputs.append(float(out[0]))
    # each op returns 2: the output is 0 or (1, 2 or 3 kept) * 2 / (1 - rate), 6 on average (unbiased)
    levels = torch.tensor([0.0, *(kept * 2.0 / (1.0 - rate) for kept in (1, 2, 3))])
    assert all(float((levels - value).abs().min()) < 1e-5 for value in outputs)
    assert sum(outputs) / n == pytest.approx(6.0, rel=0.05)
    for name in calls:
        assert abs(calls[name] - (n * (1 - rate) + n * 0.01 * (name == "a"))) < 0.05 * n
    assert abs(zeros / n - 0.01) < 0.008  # all three candidates dropped: a zero output
    dropped_inputs = sum(v == 0.0 for inputs in seen_inputs for v in inputs) / (2 * len(seen_inputs))
    assert abs(dropped_inputs - 0.1) < 0.02  # k=2 inputs: r ** (1/2)
    kept_inputs = {round(v, 5) for inputs in seen_inputs for v in inputs if v != 0.0}
    assert kept_inputs == {round(3 / (1 - 0.1), 5)}  # a kept input (sum 3) scaled by 1 / (1 - rate)
    assert all(len(inputs) == 2 for inputs in seen_inputs)  # dropped inputs are passed as zeros


def test_eval_runs_the_full_graph_at_its_training_expectation(kit):
    task = kit.Task(0)
    x, s1, s2, _ = task.batch()
    # dropout: inverted dropout (kept paths scaled by 1 / (1 - rate)) keeps each path's expected scale
    for strategy, keep_in, keep_out in (("dropout", 1.0, 1.0), ("single_path", 0.25, 1 / 3)):
        backend = OneShotBackend({"strategy": strategy}, seed=0)
        model = kit.Net(backend).eval()
        first = model(x, s1, s2)
        assert torch.equal(first, model(x, s1, s2))  # no dropout, no sampling
        expected = keep_out * sum(m([[x], [keep_in * s1, keep_in * s2]]) for m in model.nas_candidates.values())
        assert torch.allclose(first, expected)


def test_fix_rejects_an_architecture_that_does_not_fit(kit):
    backend, model, task = train(kit, 0, {}, steps=1)
    bad = {kit.BLOCK: {"h": {"chosen_layer": "Conv(7)", "chosen_inputs": []}}}
    with pytest.raises(ArchitectureError, match="chosen_layer 'Conv\\(7\\)' is not one of"):
        backend.fix(bad)
    too_many = {kit.BLOCK: {"h": {"chosen_layer": "Conv(1)", "chosen_inputs": ["s1", "s2"]}}}
    with pytest.raises(ArchitectureError, match="must be 0 to 1 distinct names"):
        backend.fix(too_many)


def test_derive_errors_say_what_is_wrong(kit):
    with pytest.raises(TrialError, match="before any mutable layer ran"):
        OneShotBackend().derive(lambda: 1.0)
    backend, model, task = train(kit, 0, {}, steps=1)
    with pytest.raises(TrialError, match="evaluate\\(\\) must return a number, got 'good'"):
        backend.derive(lambda: "good", budget=2)
    with pytest.raises(TrialError, match="search must be 'random' or 'evolution'"):
        backend.derive(lambda: 1.0, search="grid")
    with pytest.raises(TrialError, match="budget must be a positive int"):
        backend.derive(lambda: 1.0, budget=0)
    assert OneShotBackend().derived_architecture() is None  # nothing reported without a derivation


@pytest.mark.parametrize(("options", "key"), [
    ({"r": 0}, "oneshot.r"),
    ({"r": 1.5}, "oneshot.r"),
    ({"strategy": "spos"}, "oneshot.strategy"),
    ({"budget": -1}, "oneshot.budget"),
    ({"search": "grid"}, "oneshot.search"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        OneShotBackend(options)
