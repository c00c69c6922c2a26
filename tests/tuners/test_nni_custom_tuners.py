"""Tuners and trials written for NNI run unchanged: `from nni.tuner import Tuner`, `nni.utils`,
`nni.parameter_expressions`, `import nni` in trial code (nasctl's module, when NNI is not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nasctl import tuners
from nasctl._nni_compat import NNI_FOLDER, nni_path, with_nni_on_pythonpath

FIXTURES = Path(__file__).parent / "fixtures" / "nni_tuners"
SPACE = {"x": {"_type": "randint", "_value": [0, 10]}, "act": {"_type": "choice", "_value": ["relu", "tanh"]},
         "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}


@pytest.fixture
def clean_nni(monkeypatch: pytest.MonkeyPatch):
    """Whatever a test imports as `nni` (and the path it added) is gone afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [name for name in sys.modules if name == "nni" or name.startswith("nni.")]:
        del sys.modules[name]
    sys.modules.pop("evolution_tuner", None)


def test_nni_evolution_tuner_loads_and_runs(clean_nni) -> None:
    tuner = tuners.create("evolution_tuner:EvolutionTuner", code_dir=FIXTURES, optimize_mode="maximize",
                          population_size=4)
    import nni

    assert Path(nni.__file__).parent.parent == NNI_FOLDER  # nasctl's module: NNI is not installed here
    tuner.update_search_space(SPACE)
    for i in range(10):
        params = tuner.generate_parameters(i)
        assert set(params) == set(SPACE) and params["act"] in ("relu", "tanh") and 0 <= params["x"] < 10
        assert 1e-4 <= params["lr"] <= 1e-1
        tuner.receive_trial_result(i, params, {"default": params["x"]})
    assert max(reward for _, reward in tuner.population) >= 5


def test_nni_utils(clean_nni) -> None:
    sys.path.append(str(NNI_FOLDER))
    from nni.utils import OptimizeMode, convert_dict2tuple, extract_scalar_reward, split_index

    assert OptimizeMode("minimize") is OptimizeMode.Minimize
    assert extract_scalar_reward({"default": 0.5, "loss": 1}) == 0.5 and extract_scalar_reward(3) == 3
    with pytest.raises(RuntimeError, match="Incorrect final result"):
        extract_scalar_reward({"loss": 1})
    assert split_index({"a": {"_index": 1, "_value": {"b": {"_index": 0, "_value": 7}}}}) == {"a": {"b": 7}}
    assert convert_dict2tuple({"b": 1, "a": {"c": 2}}) == (("a", (("c", 2),)), ("b", 1))


def test_v1_and_v2_tuner_keys(tmp_path: Path) -> None:
    from nasctl.runtime.manager import load_config

    for tuner_yaml in (f"tuner: {{codeDir: {FIXTURES}, classFileName: evolution_tuner.py, "
                       "className: EvolutionTuner, classArgs: {optimize_mode: maximize, population_size: 4}}",
                       f"tuner: {{codeDirectory: {FIXTURES}, className: evolution_tuner:EvolutionTuner, "
                       "classArgs: {optimize_mode: maximize, population_size: 4}}"):
        path = tmp_path / "config.yml"
        path.write_text(f"trialCommand: python3 trial.py\nsearchSpaceFile: {FIXTURES / 'space.json'}\n{tuner_yaml}\n")
        spec = load_config(path).tuner
        assert (spec.name, spec.code_directory, spec.class_args) == (
            "evolution_tuner:EvolutionTuner", FIXTURES, {"optimize_mode": "maximize", "population_size": 4})


def test_a_real_nni_is_never_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "site" / "nni"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *[p for p in sys.path if p != str(NNI_FOLDER)]])
    assert nni_path() is None
    env = {"PYTHONPATH": "/somewhere"}
    with_nni_on_pythonpath(env)
    assert env == {"PYTHONPATH": "/somewhere"}


def test_trial_environment_provides_nni_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(NNI_FOLDER)])
    env = {"PYTHONPATH": "/somewhere"}
    with_nni_on_pythonpath(env)
    assert env["PYTHONPATH"] == os.pathsep.join(["/somewhere", str(NNI_FOLDER)])


def test_nni_trial_runs_standalone(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", "trial", "run", str(FIXTURES / "trial.py"),
                          "--seed", "3"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "trial STANDALONE of STANDALONE sequence 0" in run.stdout
    assert run.stdout.splitlines()[-1].startswith('final result: {"default": ')


def test_nni_trial_runs_in_an_experiment_with_the_nni_tuner_and_gpu_num(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(textwrap.dedent(f"""\
        authorName: default
        experimentName: nni_hpo
        trialConcurrency: 2
        maxTrialNum: 4
        trainingServicePlatform: local
        searchSpacePath: {FIXTURES / 'space.json'}
        tuner:
          codeDir: {FIXTURES}
          classFileName: evolution_tuner.py
          className: EvolutionTuner
          classArgs: {{optimize_mode: maximize, population_size: 2}}
        trial:
          command: python3 trial.py
          codeDir: {FIXTURES}
          gpuNum: 1
        """))
    env = {**os.environ, "NAS_HOME": str(tmp_path / "home")}
    run = subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", "run", str(config), "--id", "hpo",
                          "--no-progress"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    from nasctl.runtime.manager import Experiment
    from nasctl.runtime.manager._local import visible_gpus

    if not visible_gpus():  # gpuNum without gpuIndices, on a machine without GPUs: said once, run on the CPU
        assert run.stderr.count("has no visible GPU; trials run on the CPU") == 1

    trials = Experiment.load("hpo", nas_home=tmp_path / "home").trials()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4, [t.stderr_tail for t in trials]
    for t in trials:
        assert t.default_value == t.parameters["x"] / 10 + (t.parameters["act"] == "relu")
        assert len(t.intermediate) == 1


HANDWRITTEN = """\
import nni
conv_size = nni.choice({2: 2, 3: 3, 5: 5, 7: 7}, name='conv_size')
abc = nni.choice({'2': '2', 3: 3, '(5 * 6)': 5 * 6, 7: 7}, name='abc')
h = nni.function_choice({'max(1, 2)': lambda: max(1, 2), 'min(1, 2)': lambda: min(1, 2)}, name='max')
lr = nni.uniform(0.1, 0.5, name='lr')
nni.report_final_result(conv_size + h + lr + abc)
"""


def test_nnis_hand_written_calls_use_nnis_keys(tmp_path: Path) -> None:
    (tmp_path / "handwrite.py").write_text(HANDWRITTEN)
    arch = {"handwrite/conv_size/choice": 5, "handwrite/abc/choice": "(5 * 6)",
            "handwrite/max/function_choice": "min(1,2)", "handwrite/lr/uniform": 0.25}
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    run = subprocess.run([sys.executable, "-m", "nasctl.runtime.cli", "trial", "run", str(tmp_path / "handwrite.py"),
                          "--key-style", "nni", "--arch", str(tmp_path / "arch.json")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "final result: 36.25"  # 5 + min(1, 2) + 0.25 + 5 * 6


def test_docstring_example() -> None:
    import doctest

    from nasctl import _nni_compat

    assert doctest.testmod(_nni_compat).failed == 0
