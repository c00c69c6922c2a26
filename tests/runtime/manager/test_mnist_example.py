"""The `make demo` experiment, shrunk: examples/mnist-nas/config.yml with 2 trials of 1 epoch (torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from nasctl.runtime.manager import Experiment

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist-nas"


def test_mnist_example_runs_and_its_best_trial_exports(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    pytest.importorskip("torch")
    config = yaml.safe_load((EXAMPLE / "config.yml").read_text())
    assert config["useAnnotation"] is True and config["trialConcurrency"] == 2
    config.update(trialCodeDirectory=str(EXAMPLE), trialCommand="python3 mnist.py --epochs 1", maxTrialNumber=2)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    run = helpers.nasctl("run", str(path), "--id", "mnist", "--no-progress", env={"NAS_HOME": str(nas_home)})
    assert run.returncode == 0, run.stderr
    exp = Experiment.load("mnist", nas_home=nas_home)
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"], [t.stderr_tail for t in trials]
    for t in trials:
        assert 0.0 < t.default_value <= 1.0 and len(t.intermediate) == 1
        assert "mnist/learning_rate/choice" in t.parameters
    out = tmp_path / "best"
    export = helpers.nasctl("experiment", "export", "mnist", "--code", str(out), env={"NAS_HOME": str(nas_home)})
    assert export.returncode == 0, export.stderr
    assert "@nas." not in (out / "mnist.py").read_text()
