"""A config that cannot run is refused before the experiment exists: exit 2, one line, no folder left."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import NasError
from nasctl.runtime.manager._experiment import Experiment

CHOICE = {"x": {"_type": "choice", "_value": [1, 2]}}

CASES = {
    "tuner_name": ({"tuner": {"name": "Randon"}}, r"key 'tuner': unknown tuner 'Randon'"),
    "class_args_typo": ({"tuner": {"name": "Random", "classArgs": {"populaton": 3}}},
                        r"no class argument 'populaton'"),
    "class_args_value": ({"tuner": {"name": "Evolution", "classArgs": {"population_size": -3}}},
                         r"population_size' must be an integer >= 2"),
    "darts_section_typo": ({"nasMode": "darts", "darts": {"lr": 0.01}, "tuner": None},
                           r"key 'darts.lr': unknown option\(s\) lr"),
    "oneshot_section_value": ({"nasMode": "oneshot", "oneshot": {"r": 2}, "tuner": None},
                              r"key 'oneshot.r': expected a value in \(0.0, 1.0\]"),
    "enas_section_typo": ({"nasMode": "enas", "enas": {"windw": 5}, "tuner": {"name": "Random"}},
                          r"key 'enas.windw'"),
    "grid_on_continuous": ({"tuner": {"name": "GridSearch"},
                            "searchSpace": {"x": {"_type": "uniform", "_value": [0, 1]}}},
                           r"'x': uniform is continuous and has no grid"),
    "randint_low_above_high": ({"searchSpace": {"x": {"_type": "randint", "_value": [5, 1]}}},
                               r"'x': randint \[5, 1\]"),
    "negative_loguniform": ({"searchSpace": {"x": {"_type": "loguniform", "_value": [-1, 1]}}},
                            r"'x': loguniform \[-1, 1\]: loguniform needs low > 0"),
    "nan_bound": ({"searchSpace": {"x": {"_type": "uniform", "_value": [math.nan, 1]}}}, r"'x': uniform \[nan, 1\]"),
    "range_with_a_custom_tuner": ({"searchSpace": {"x": {"_type": "randint", "_value": [5, 1]}},
                                   "tuner": {"codeDirectory": "tuner", "className": "listtuner:ListTuner"}},
                                  r"'x': randint \[5, 1\]"),
    "seed_too_large": ({"seed": 10**23}, r"key 'seed': expected an integer from 0 to 4294967295"),
    "custom_tuner_constructor_raises": ({"tuner": {"codeDirectory": "tuner", "className": "failingtuner:Failing",
                                                   "classArgs": {"seed": "x"}}},
                                        r"key 'tuner': tuner failingtuner:Failing: bad class arguments"),
}


def _config(project: Path, helpers: Any, change: dict[str, Any]) -> dict[str, Any]:
    config = helpers.base_config(project, searchSpace=CHOICE, tuner={"name": "Random"})
    del config["searchSpaceFile"]
    for key, value in change.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


@pytest.mark.parametrize("change, pattern", list(CASES.values()), ids=list(CASES))
def test_invalid_config_is_refused_before_the_experiment_exists(project: Path, nas_home: Path, helpers: Any,
                                                                change: dict[str, Any], pattern: str) -> None:
    if (change.get("tuner") or {}).get("className", "").startswith("failingtuner"):
        helpers.write(project / "tuner" / "failingtuner.py", helpers.TUNER.replace(
            "self.rng = random.Random(seed)", "self.rng = random.Random(seed)\n        int(seed)").replace(
            "class ListTuner", "class Failing"))
    path = helpers.write_config(project, _config(project, helpers, change))
    with pytest.raises(NasError, match=pattern):
        Experiment.from_yaml(path).create()
    assert not nas_home.exists() or not any(nas_home.iterdir())


@pytest.mark.parametrize("command", ["run", "create"])
def test_invalid_tuner_args_exit_2_with_one_line(project: Path, nas_home: Path, helpers: Any, command: str) -> None:
    path = helpers.write_config(project, _config(project, helpers, CASES["class_args_typo"][0]))
    result = helpers.nasctl(*([command, str(path)] if command == "run" else [command, "--config", str(path)]))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "populaton" in result.stderr
    assert not nas_home.exists() or not any(nas_home.iterdir())


def test_trial_code_directory_skips_environments_and_says_what_it_compiled(project: Path, nas_home: Path,
                                                                           helpers: Any) -> None:
    broken = "'''@nas.report_final_result(1)'''\ndef broken(:\n"
    helpers.write(project / "trial.py", "# @nas.variable(nas.choice(1, 2), name=x)\nx = 1\n")
    helpers.write(project / "venv" / "pyvenv.cfg", "home = /usr/bin\n")
    helpers.write(project / "venv" / "lib" / "bad.py", broken)
    helpers.write(project / ".git" / "hooks" / "bad.py", broken)
    helpers.write(project / "__pycache__" / "bad.py", broken)
    config = helpers.base_config(project, useAnnotation=True)
    del config["searchSpaceFile"]
    path = helpers.write_config(project, config)
    result = helpers.nasctl("create", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert f"compiled 1 file(s) with annotations from {project}: trial.py" in result.stderr
    exp = Experiment.load(result.stdout.strip())
    helpers.nasctl("stop", exp.id)
    code = exp.dir / "code"
    assert (code / "venv").is_symlink() and (code / ".git").is_symlink() and not (code / "__pycache__").exists()
    assert list(exp.info()["search_space"]) == ["trial/x/choice"]
