"""Search quality on the shipped synthetic table: the learning tuners beat Random, and a tuner
that ignores its results does not (so the margin means something)."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasctl import tuners

QUERIES = 100
SEEDS = range(10)
MARGIN = 0.004
"""Required gain of the mean best accuracy over Random's (0.8637 on the shipped table; the table's
best is 0.8741). Random's mean over 10 seeds has a standard error of about 0.0015, so a tuner
that learns nothing clears this margin by chance with probability well under 1%."""

LEARNERS = {
    "Evolution": {"population_size": 20, "sample_size": 5},
    "TPE": {},
    "Reinforce": {},
    "PPO": {},
}


class IgnoresResults(tuners.Tuner):
    """A tuner that is told the same value for every trial: whatever it learns, it learns nothing."""

    def __init__(self, inner: tuners.Tuner) -> None:
        self.inner = inner

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        self.inner.update_search_space(search_space)

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        return self.inner.generate_parameters(parameter_id)

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any, **kwargs: Any) -> None:
        self.inner.receive_trial_result(parameter_id, parameters, 0.5)


@pytest.fixture(scope="module")
def table() -> tuners.TabularObjective:
    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
    return tuners.TabularObjective(data / "synthetic_table.csv", data / "synthetic_search_space.json")


def mean_best(table: tuners.TabularObjective, make) -> float:
    return float(np.mean([max(tuners.run_search(make(seed), table, QUERIES)) for seed in SEEDS]))


@pytest.fixture(scope="module")
def random_mean(table: tuners.TabularObjective) -> float:
    return mean_best(table, lambda seed: tuners.create("Random", seed=seed))


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learning_tuner_beats_random(table, random_mean, name):
    mean = mean_best(table, lambda seed: tuners.create(name, seed=seed, **LEARNERS[name]))
    assert mean >= random_mean + MARGIN, f"{name}: mean best {mean:.4f} vs Random {random_mean:.4f}"


@pytest.mark.parametrize("name", list(LEARNERS))
def test_the_margin_fails_a_tuner_that_ignores_its_results(table, random_mean, name):
    mean = mean_best(table, lambda seed: IgnoresResults(tuners.create(name, seed=seed, **LEARNERS[name])))
    assert not mean >= random_mean + MARGIN, f"{name} without results: {mean:.4f} vs Random {random_mean:.4f}"


def test_shipped_table_is_what_the_generator_writes(tmp_path):
    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
    subprocess.run([sys.executable, str(data / "make_synthetic_table.py"), "--out", str(tmp_path)], check=True)
    for name in ("synthetic_table.csv", "synthetic_search_space.json"):
        assert filecmp.cmp(tmp_path / name, data / name, shallow=False), f"{name} differs: rerun the generator"


def test_benchmark_script_takes_a_users_table(tmp_path):
    space = {"m/act/choice": {"_type": "choice", "_value": ["relu", "tanh", "gelu"]},
             "m/units/randint": {"_type": "randint", "_value": [1, 5]}}
    (tmp_path / "space.json").write_text(json.dumps(space))
    rows = [f'"{act}",{units},{0.5 + 0.1 * units - 0.05 * i}\n' for i, act in enumerate(["relu", "tanh", "gelu"])
            for units in range(1, 5)]
    (tmp_path / "table.csv").write_text("m/act/choice,m/units/randint,top1\n" + "".join(rows))
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "tuner_quality.py"
    result = subprocess.run([sys.executable, str(script), "--table", str(tmp_path / "table.csv"), "--search-space",
                             str(tmp_path / "space.json"), "--metric", "top1", "--tuners", "Evolution,GridSearch",
                             "--queries", "12", "--seeds", "2", "--at", "3,12"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "12 architectures, best top1 0.9000" in lines[0]
    assert [line.split()[0] for line in lines[3:]] == ["Random", "Evolution", "GridSearch"]
    assert all(line.split()[4] == "0.9000" for line in lines[3:])  # 12 queries exhaust the table: all find the best


def test_benchmark_script_reports_a_bad_table(tmp_path):
    (tmp_path / "space.json").write_text('{"k": {"_type": "choice", "_value": [1, 2]}}')
    (tmp_path / "table.csv").write_text("k,accuracy\n1,0.5\n")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "tuner_quality.py"
    result = subprocess.run([sys.executable, str(script), "--table", str(tmp_path / "table.csv"),
                             "--search-space", str(tmp_path / "space.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "table.csv: the table holds 1 of the search space's 2 architectures" in result.stderr
