"""NNI v1 configs as NNI's examples write them: advisors, NNI's tuner names, gpuNum, keyStyle."""

from __future__ import annotations

import logging
import selectors
import textwrap
from pathlib import Path

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager import load_config
from nasctl.runtime.manager._local import LocalTrainingService, visible_gpus

README = Path(__file__).resolve().parents[3] / "README.md"

# NNI's examples/trials/mnist-nas/config_ppo.yml (v1.1), in its own words.
V1_PPO = textwrap.dedent("""\
    authorName: NNI-example
    experimentName: example_mnist
    trialConcurrency: 1
    maxExecDuration: 100h
    maxTrialNum: 10000
    trainingServicePlatform: local
    useAnnotation: true
    tuner:
      builtinTunerName: PPOTuner
      classArgs:
        optimize_mode: maximize
    trial:
      command: python3 mnist.py
      codeDir: .
      gpuNum: 0
""")


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nnis_ppo_config_loads(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, V1_PPO))
    assert config.tuner is not None and config.tuner.name == "PPOTuner"
    assert config.key_style == "stable"


def test_key_style_nni(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, V1_PPO + "keyStyle: nni\n")).key_style == "nni"
    with pytest.raises(ConfigError, match="key 'keyStyle'"):
        load_config(_config(tmp_path, V1_PPO + "keyStyle: lines\n"))


@pytest.mark.parametrize("name, closest", [("SMAC", "TPE"), ("MetisTuner", "GPTuner"), ("Anneal", "TPE"),
                                           ("BatchTuner", "GridSearch"), ("NetworkMorphism", "Evolution")])
def test_unsupported_tuner_stops_before_the_experiment(tmp_path: Path, name: str, closest: str) -> None:
    text = V1_PPO.replace("PPOTuner", name)
    with pytest.raises(ConfigError, match=rf"config\.yml:9, key 'tuner\.builtinTunerName': NNI's {name} is not "
                       rf"supported by nasctl; the closest is {closest}"):
        load_config(_config(tmp_path, text))


def test_refused_class_argument_names_its_key(tmp_path: Path) -> None:
    text = V1_PPO.replace("optimize_mode: maximize", "optimize_mode: maximize\n    vf_coef: 0.5")
    with pytest.raises(ConfigError, match=r"key 'tuner\.classArgs\.vf_coef': NNI's PPO class argument 'vf_coef' "
                       "is not supported by nasctl; the closest is baseline_decay"):
        load_config(_config(tmp_path, text))


def test_tpe_parallel_options_of_nnis_docs(tmp_path: Path) -> None:
    text = V1_PPO.replace("PPOTuner", "TPE").replace(
        "optimize_mode: maximize", "optimize_mode: maximize\n    parallel_optimize: True\n    constant_liar_type: min")
    assert load_config(_config(tmp_path, text)).tuner.class_args["parallel_optimize"] is True
    with pytest.raises(ConfigError, match="constant_liar_type: mean' is not supported by nasctl; the closest is "
                       "constant_liar_type: min"):
        load_config(_config(tmp_path, text.replace("constant_liar_type: min", "constant_liar_type: mean")))


@pytest.mark.parametrize("advisor, closest", [("Hyperband", "Random"), ("BOHB", "TPE")])
def test_advisor_section_is_not_supported(tmp_path: Path, advisor: str, closest: str) -> None:
    text = V1_PPO.replace("tuner:\n  builtinTunerName: PPOTuner", f"advisor:\n  builtinAdvisorName: {advisor}")
    with pytest.raises(ConfigError, match=rf"key 'advisor': advisor: NNI's {advisor} is not supported by nasctl; "
                       rf"the closest is {closest}"):
        load_config(_config(tmp_path, text))


def test_unknown_key_points_to_the_readme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'trialConcurency': unknown key .*README\.md, section 'Experiments'"):
        load_config(_config(tmp_path, V1_PPO + "trialConcurency: 2\n"))
    assert "\n## Experiments\n" in README.read_text(encoding="utf-8")


def _service(tmp_path: Path, **kwargs: object) -> LocalTrainingService:
    return LocalTrainingService(experiment_dir=tmp_path, code_dir=tmp_path, command="true", concurrency=2,
                                selector=selectors.DefaultSelector(), on_exit=lambda trial: None, **kwargs)


def test_gpu_num_without_indices_uses_the_visible_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = V1_PPO.replace("gpuNum: 0", "gpuNum: 1")
    config = load_config(_config(tmp_path, text))
    assert config.trial_gpu_number == 1 and config.gpu_indices is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert visible_gpus() == (1, 3)
    service = _service(tmp_path, trial_gpu_number=1)
    assert service.gpu_indices == (1, 3) and service.free_slots() == 2
    assert service.cuda_visible_devices(service.reserve_gpus()) == "1"


def test_gpu_num_on_a_machine_without_gpus_runs_on_the_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with caplog.at_level(logging.WARNING, logger="nasctl.manager"):
        service = _service(tmp_path, trial_gpu_number=1)
    assert [r.getMessage() for r in caplog.records] == [
        "trialGpuNumber is 1 but this machine has no visible GPU; trials run on the CPU"]
    assert capsys.readouterr().err == ("warning: trialGpuNumber is 1 but this machine has no visible GPU; "
                                       "trials run on the CPU\n")
    assert service.gpu_number == 0 and service.free_slots() == 2
    assert service.cuda_visible_devices(service.reserve_gpus()) is None  # nothing hidden, nothing assigned


def test_visible_gpus_from_nvidia_smi(tmp_path: Path) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n[ \"$1\" = --query-gpu=index ] && printf '0\\n1\\n'\n")
    smi.chmod(0o755)
    assert visible_gpus({"PATH": str(tmp_path)}) == (0, 1)
    assert visible_gpus({"PATH": str(tmp_path), "CUDA_VISIBLE_DEVICES": "2"}) == (2,)
    assert visible_gpus({"PATH": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""}) == ()
