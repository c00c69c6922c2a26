"""`trial codegen` and `experiment export --code`: the inlined code runs without nasctl, same result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment, derive_trial_seed

# An annotated trial without torch: a variable, a layer choice with an optional input, a function
# choice, and a seeded noise term, so the result depends on the architecture and the trial seed.
TRIAL = '''\
"""A tiny annotated trial."""
import os
import random


def add(inputs, k):
    return sum(inputs[0]) + sum(inputs[1]) + k


def mul(inputs, k):
    return (sum(inputs[0]) + sum(inputs[1])) * k


def square(v):
    return v * v


def halve(v):
    return v / 2


def main():
    rng = random.Random(int(os.environ.get("NAS_TRIAL_SEED", "0")))
    x = 3
    skip = 5
    # @nas.variable(nas.choice(1, 2, 3), name=k)
    k = 1
    """@nas.mutable_layers({layer_choice: [add(k=k), mul(k=k)], fixed_inputs: [x], optional_inputs: [skip],
        optional_input_size: [0, 1], layer_output: h})"""
    """@nas.function_choice(square(h), halve(h), name=square)"""
    y = square(h)
    value = y + rng.random()
    print("VALUE", repr(value))
    """@nas.report_final_result(value)"""


main()
'''


def test_codegen_output_runs_without_nasctl_and_reproduces_the_trial(tmp_path: Path, nas_home: Path,
                                                                      helpers: Any) -> None:
    code = tmp_path / "code"
    helpers.write(code / "tiny.py", TRIAL)
    config = helpers.write_config(code, {
        "trialCommand": "python3 tiny.py", "trialCodeDirectory": ".", "useAnnotation": True,
        "trialConcurrency": 2, "maxTrialNumber": 4, "seed": 11, "tuner": {"name": "Random"}})
    env = {"NAS_HOME": str(nas_home)}
    run = helpers.nasctl("run", str(config), "--id", "cg", "--no-progress", env=env)
    assert run.returncode == 0, run.stderr
    exp = Experiment.load("cg", nas_home=nas_home)
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4

    # Without nasctl: -I ignores PYTHON* variables and the working directory, -S the site-packages.
    bare = [sys.executable, "-I", "-S"]
    assert subprocess.run([*bare, "-c", "import nas"], capture_output=True).returncode != 0
    for trial in trials:
        out = tmp_path / f"out-{trial.trial_id}"
        result = helpers.nasctl("trial", "codegen", "cg", "--trial-id", trial.trial_id, "-o", str(out), env=env)
        assert result.returncode == 0, result.stderr
        text = (out / "tiny.py").read_text()
        assert "@nas." not in text and "import nas" not in text
        seed = str(derive_trial_seed(11, trial.sequence))
        ran = subprocess.run([*bare, "tiny.py"], cwd=out, capture_output=True, text=True,
                             env={"NAS_TRIAL_SEED": seed, "PATH": os.environ.get("PATH", "")})
        assert ran.returncode == 0, ran.stderr
        line = next(line for line in ran.stdout.splitlines() if line.startswith("VALUE"))
        assert float(line.split()[1]) == pytest.approx(trial.value, rel=1e-12)

    best = exp.best()
    exported = tmp_path / "best"
    result = helpers.nasctl("experiment", "export", "cg", "--code", str(exported), env=env)
    assert result.returncode == 0, result.stderr
    assert f"best trial {best.trial_id}" in result.stderr
    assert (exported / "tiny.py").read_text() == (tmp_path / f"out-{best.trial_id}" / "tiny.py").read_text()

    again = helpers.nasctl("trial", "codegen", "cg", "--trial_id", best.trial_id, "-o", str(exported), env=env)
    assert again.returncode == 2 and "is not empty" in again.stderr
    missing = helpers.nasctl("trial", "codegen", "cg", "--trial_id", "zzzzz", "-o", str(tmp_path / "z"), env=env)
    assert missing.returncode == 2 and "no trial 'zzzzz'" in missing.stderr
