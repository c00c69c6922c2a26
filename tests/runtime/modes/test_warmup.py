"""The supernet warm-up budget (`oneshot.warmup`) and the options of any-path sampling and evolution."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import ConfigError, TrialError
from nasctl.runtime.modes import Warmup
from nasctl.runtime.modes._options import EvolutionOptions, OneShotOptions, WarmupBudget


def test_a_sample_budget_is_counted_in_samples_and_cuts_the_last_batch():
    warmup = Warmup.of({"samples": 100})
    taken = []
    while (n := warmup.take(32)) > 0:
        taken.append(n)
    assert taken == [32, 32, 32, 4]
    assert (warmup.samples, warmup.steps, warmup.done, warmup.fraction) == (100, 4, True, 1.0)
    assert warmup.take(32) == 0 and warmup.samples == 100  # nothing more is counted


def test_an_epoch_fraction_is_a_sample_budget_of_that_share_of_the_epoch():
    warmup = Warmup.of({"epochs": 0.1}, epoch_samples=1000)
    assert warmup.max_samples == 100
    assert sum(iter(lambda: warmup.take(64), 0)) == 100
    with pytest.raises(ConfigError, match="needs the epoch size in samples"):
        Warmup.of({"epochs": 0.1})


def test_a_step_budget_counts_steps_and_no_budget_never_ends():
    warmup = Warmup.of({"steps": 3})
    assert [warmup.take(10) for _ in range(4)] == [10, 10, 10, 0]
    assert warmup.samples == 30
    unlimited = Warmup.of(None)
    assert all(unlimited.take(8) == 8 for _ in range(100)) and unlimited.fraction is None
    with pytest.raises(TrialError, match="expected a positive int"):
        unlimited.take(0)


def test_warmup_options_are_checked():
    assert OneShotOptions.parse({"warmup": {"samples": 5000}}).warmup == WarmupBudget(samples=5000)
    with pytest.raises(ConfigError, match="exactly one of steps, samples, epochs"):
        OneShotOptions.parse({"warmup": {"steps": 10, "samples": 5}})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) minutes") as info:
        OneShotOptions.parse({"warmup": {"minutes": 3}})
    assert info.value.args and "oneshot.warmup" in str(info.value)


def test_any_path_and_evolution_options_are_checked():
    options = OneShotOptions.parse({"strategy": "any_path", "p": 0.25,
                                    "evolution": {"score": "both", "max_params": 1000, "weights": {"loss": 1}}})
    assert (options.strategy, options.p) == ("any_path", 0.25)
    assert options.evolution.score == "both" and options.evolution.max_params == 1000
    assert dict(options.evolution.weights) == {"zico": 1.0, "fisher_rao": 1.0, "loss": 1.0}
    with pytest.raises(ConfigError, match=r"expected a value in \(0.0, 1.0\], got 0"):
        OneShotOptions.parse({"strategy": "any_path", "p": 0})
    with pytest.raises(ConfigError, match="expected one of 'proxy', 'finetune', 'both'"):
        EvolutionOptions.parse({"score": "accuracy"})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) childs"):
        EvolutionOptions.parse({"childs": 8})
