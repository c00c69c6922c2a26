"""examples/custom_tuner: its config names the tuner, `nasctl.tuners.create` loads it, and it searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from nasctl import tuners

# What the annotations of examples/custom_tuner/trial.py declare (DESIGN.md §3 keys).
TRIAL_SPACE = {
    "trial/hidden/choice": {"_type": "choice", "_value": [16, 32, 64]},
    "trial/alpha/loguniform": {"_type": "loguniform", "_value": [1e-5, 1e-2]},
    "trial/relu_net/function_choice": {"_type": "choice",
                                       "_value": ["relu_net(hidden, alpha)", "tanh_net(hidden, alpha)"]},
}


@pytest.fixture
def example(kit, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    return kit.REPO / "examples" / "custom_tuner"


def test_config_names_the_tuner_nni_v2_style(example):
    config = yaml.safe_load((example / "config.yml").read_text())
    assert config["tuner"]["className"] == "my_tuner:MyTuner" and config["tuner"]["codeDirectory"] == "."
    tuner = tuners.create(config["tuner"]["className"], code_dir=example / config["tuner"]["codeDirectory"],
                          **config["tuner"]["classArgs"])
    assert isinstance(tuner, tuners.Tuner)


def test_custom_tuner_drives_a_search(kit, example):
    tuner = tuners.create("my_tuner:MyTuner", code_dir=example, seed=0)
    tuner.update_search_space(TRIAL_SPACE)
    proposals = kit.drive(tuner, 30, metric=lambda a: a["trial/hidden/choice"] - 1000 * a["trial/alpha/loguniform"])
    for arch in proposals:
        kit.check_proposal(TRIAL_SPACE, arch)
    assert len({json.dumps(p, sort_keys=True) for p in proposals}) == 30
    assert sum(p["trial/hidden/choice"] == 64 for p in proposals[10:]) > 12  # local search found the better width


def test_custom_tuner_on_a_finite_space_and_bad_arguments(kit, example):
    tuner = tuners.create("my_tuner:MyTuner", code_dir=example, seed=1, restart_probability=0.5)
    tuner.update_search_space(kit.FINITE_SPACE)
    assert len({json.dumps(p, sort_keys=True) for p in kit.drive(tuner, kit.FINITE_SIZE)}) == kit.FINITE_SIZE
    with pytest.raises(tuners.NoMoreTrialError, match="all 72 architectures tried"):
        tuner.generate_parameters(kit.FINITE_SIZE)
    with pytest.raises(tuners.TunerArgumentError, match="'restart_probability' must be in \\[0, 1\\], got 2"):
        tuners.create("my_tuner:MyTuner", code_dir=example, restart_probability=2)


def test_trial_runs_on_a_cpu_as_plain_python(example):
    result = subprocess.run([sys.executable, str(example / "trial.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) > 0.8


def test_the_conformance_kit_passes_on_the_example_as_its_author_runs_it(example, tmp_path):
    """`pytest test_my_tuner.py` in examples/custom_tuner: every property of `nasctl.tuners.testing`, twice."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                             "--import-mode=importlib", str(example / "test_my_tuner.py")],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "24 passed" in result.stdout
