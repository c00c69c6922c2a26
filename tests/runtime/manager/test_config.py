"""Experiment configs: NNI v2 and v1 keys, validation errors that name the file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager import ExperimentConfig, load_config, parse_duration


def _yaml(tmp_path: Path, text: str, name: str = "exp.yml") -> Path:
    (tmp_path / "space.json").write_text('{"x": {"_type": "choice", "_value": [1, 2]}}')
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


V2 = """\
    experimentName: mnist-nas
    trialCodeDirectory: .
    trialCommand: python3 mnist.py
    searchSpaceFile: space.json
    nasMode: classic
    trialConcurrency: 2
    maxTrialNumber: 20
    maxExperimentDuration: 1h
    maxTrialDuration: 90s
    seed: 5
    tuner: {name: Evolution, classArgs: {optimize_mode: maximize, population_size: 16}}
    trainingService: {platform: local, gpuIndices: [0, 1]}
"""


def test_v2_config_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(_yaml(tmp_path, V2))
    assert config.trial_command == "python3 mnist.py"
    assert config.trial_code_directory == tmp_path.resolve()
    assert config.search_space_file == (tmp_path / "space.json").resolve()
    assert (config.trial_concurrency, config.max_trial_number, config.seed) == (2, 20, 5)
    assert (config.max_experiment_duration, config.max_trial_duration) == (3600.0, 90.0)
    assert config.tuner is not None and config.tuner.name == "Evolution"
    assert config.tuner.class_args == {"optimize_mode": "maximize", "population_size": 16}
    assert config.gpu_indices == (0, 1)
    assert config.nas_mode == "classic"


def test_v1_keys_are_normalised(tmp_path: Path) -> None:
    config = load_config(_yaml(tmp_path, """\
        authorName: someone
        experimentName: v1
        trialConcurrency: 3
        maxExecDuration: 2h
        maxTrialNum: 8
        trainingServicePlatform: local
        searchSpacePath: space.json
        useAnnotation: false
        multiPhase: true
        tuner:
          builtinTunerName: TPE
          classArgs: {optimize_mode: minimize}
        trial:
          command: python3 trial.py
          codeDir: .
          gpuNum: 0
          nasMode: enas_mode
        localConfig: {gpuIndices: "0,2", maxTrialNumPerGpu: 2}
    """))
    assert config.trial_command == "python3 trial.py"
    assert (config.max_trial_number, config.max_experiment_duration, config.trial_concurrency) == (8, 7200.0, 3)
    assert config.tuner is not None and config.tuner.name == "TPE"
    assert config.nas_mode == "enas"
    assert config.gpu_indices == (0, 2) and config.max_trial_number_per_gpu == 2
    assert config.trial_gpu_number == 0
    assert config.document["trainingService"]["platform"] == "local"


def test_custom_tuner_forms(tmp_path: Path) -> None:
    (tmp_path / "tuners").mkdir()
    v2 = load_config(_yaml(tmp_path, """\
        trialCommand: python3 t.py
        searchSpaceFile: space.json
        tuner: {codeDirectory: tuners, className: my_tuner.MyTuner, classArgs: {k: 1}}
    """))
    assert v2.tuner is not None and v2.tuner.name == "my_tuner:MyTuner"
    assert v2.tuner.code_directory == (tmp_path / "tuners").resolve() and v2.tuner.is_custom
    v1 = load_config(_yaml(tmp_path, """\
        trial: {command: python3 t.py, codeDir: .}
        searchSpacePath: space.json
        tuner: {codeDir: tuners, classFileName: my_tuner.py, className: MyTuner}
    """, "v1.yml"))
    assert v1.tuner is not None and v1.tuner.name == "my_tuner:MyTuner"


def test_mode_options_and_darts_without_tuner(tmp_path: Path) -> None:
    config = load_config(_yaml(tmp_path, """\
        trialCommand: python3 t.py
        useAnnotation: true
        nasMode: darts_mode
        darts: {order: 2, optimizer: {lr: 0.0003}}
    """))
    assert config.nas_mode == "darts"
    assert config.mode_config == {"order": 2, "optimizer": {"lr": 0.0003}}
    assert config.tuner is None and config.max_trial_number == 1


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400),
                                               ("1.5h", 5400), (45, 45), ("12", 12)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["3x", "-1s", "h", True, 0])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text, "maxTrialDuration")


@pytest.mark.parametrize(("body", "pattern"), [
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\ntrialConcurency: 2\n",
     r"exp\.yml:4, key 'trialConcurency': unknown key"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE, clasArgs: {}}\n",
     r"exp\.yml:3, key 'tuner\.clasArgs': unknown key"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\ntrialConcurrency: two\n",
     r"exp\.yml:4, key 'trialConcurrency': 'two' is not of type 'integer'"),
    ("searchSpaceFile: space.json\ntuner: {name: TPE}\n", r"key 'trialCommand': missing required key"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\ntrialConcurrency: -2\n",
     r"exp\.yml:4, key 'trialConcurrency': -2 is less than the minimum of 1"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\nmaxExperimentDuration: 3 weeks\n",
     r"key 'maxExperimentDuration': expected a duration like 30s"),
    ("trial: {command: python3 t.py, codeDirectory: .}\nsearchSpaceFile: space.json\ntuner: {name: TPE}\n",
     r"exp\.yml:1, key 'trial\.codeDirectory': unknown key"),
    ("trial: {command: python3 t.py}\ntrialCommand: x\nsearchSpaceFile: space.json\ntuner: {name: TPE}\n",
     r"key 'trial\.command': both 'trial\.command' \(NNI v1\) and 'trialCommand'"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: nowhere.json\ntuner: {name: TPE}\n",
     r"exp\.yml:2, key 'searchSpaceFile': search space file .* does not exist"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\n", r"key 'tuner': missing required key"),
    ("trialCommand: python3 t.py\ntuner: {name: TPE}\n", r"key 'searchSpaceFile': no search space"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\ndarts: {a: 1}\n",
     r"key 'darts': options for mode 'darts' but nasMode is 'classic'"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\nnasMode: fast\n",
     r"key 'nasMode': 'fast' is not one of"),
    ("trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\nmaxTrialNum: 0\n",
     r"exp\.yml:4, key 'maxTrialNum': 0 is less than the minimum of 1"),
    ("trialCommand: [python3, t.py]\n", r"key 'trialCommand': \['python3', 't.py'\] is not of type 'string'"),
])
def test_bad_configs_name_the_key(tmp_path: Path, body: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as error:
        load_config(_yaml(tmp_path, body))
    assert "\n" not in str(error.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exp\.yml:3: invalid YAML: .*flow mapping started at line 2"):
        load_config(_yaml(tmp_path, "trialCommand: x\ntuner: {name: TPE\nseed: 1\n"))


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(_yaml(tmp_path, "- a\n- b\n"))


def test_from_dict_uses_base_dir(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    config = ExperimentConfig.from_dict({"trialCommand": "python3 t.py", "trialCodeDirectory": "code",
                                         "searchSpace": {"x": {"_type": "choice", "_value": [1]}},
                                         "tuner": {"name": "Random"}}, base_dir=tmp_path)
    assert config.trial_code_directory == (tmp_path / "code").resolve()
    assert config.search_space == {"x": {"_type": "choice", "_value": [1]}}
    with pytest.raises(ConfigError, match="key 'trialCodeDirectory': trial code directory .* does not exist"):
        ExperimentConfig.from_dict({"trialCommand": "t", "trialCodeDirectory": "nope", "searchSpace": {},
                                    "tuner": {"name": "Random"}}, base_dir=tmp_path)
