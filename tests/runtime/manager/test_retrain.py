"""Retraining a fixed architecture (`architecture:`), tunerless one-shot experiments, `export --sample`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager import Experiment, load_config
from nasctl.runtime.manager._retrain import PartialSpaceTuner, free_space, merge_architecture

BLOCK = "t/b"
SPACE = {
    BLOCK: {"_type": "mutable_layer", "_value": {
        "h1": {"layer_choice": ["a()", "b()"], "optional_inputs": [], "optional_input_size": 0},
        "h2": {"layer_choice": ["a()", "b()", "c()"], "optional_inputs": ["x", "y"], "optional_input_size": [0, 1]},
    }},
    "t/lr/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
    "t/act/function_choice": {"_type": "choice", "_value": ["relu(h)", "tanh(h)"]},
}
H1 = {"chosen_layer": "b()", "chosen_inputs": []}
H2 = {"chosen_layer": "c()", "chosen_inputs": ["y"]}

# A trial that reports the parameters it was given (x*10 + y) and, in darts experiments, weights.
ECHO = '''
reply = request("get_parameter")
params, pid = reply["parameters"], reply["parameter_id"]
with open("received.json", "w") as handle:
    json.dump(params, handle)
weights = os.environ.get("TEST_ARCH_WEIGHTS")
if weights:
    for step in range(2):
        request("metric", kind="intermediate", parameter_id=pid, sequence=step,
                value={"default": 1.0 - step, "arch_weights": json.loads(weights)})
derived = os.environ.get("TEST_DERIVED")
if derived:
    request("architecture", architecture=json.loads(derived), parameter_id=pid)
request("metric", kind="final", value=float(params.get("x", 0)) * 10 + float(params.get("y", 0)), parameter_id=pid)
'''


def _config(project: Path, helpers: Any, **overrides: Any) -> dict[str, Any]:
    helpers.write(project / "echo.py", helpers.CLIENT + ECHO)
    return helpers.base_config(project, trialCommand="python3 echo.py", trialConcurrency=1, **overrides)


def _received(exp: Experiment) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((exp.dir / "trials").glob("*/received.json"))]


# -- the tuner over what is left open ---------------------------------------------------------------


def test_free_space_drops_fixed_keys_and_fixed_layers_of_a_block() -> None:
    space = free_space(SPACE, {BLOCK: {"h1": H1}, "t/lr/choice": 0.01})
    assert sorted(space) == ["t/act/function_choice", BLOCK]
    assert list(space[BLOCK]["_value"]) == ["h2"]
    assert free_space(SPACE, {BLOCK: {"h1": H1, "h2": H2}}) == {k: v for k, v in SPACE.items() if k != BLOCK}
    assert sorted(free_space(SPACE, {}, layers_fixed=True)) == ["t/act/function_choice", "t/lr/choice"]


def test_merge_keeps_fixed_layers_and_adds_the_proposed_ones() -> None:
    fixed = {BLOCK: {"h1": H1}}
    merged = merge_architecture(fixed, {BLOCK: {"h2": H2}, "t/lr/choice": 0.1})
    assert merged == {BLOCK: {"h1": H1, "h2": H2}, "t/lr/choice": 0.1}
    assert fixed == {BLOCK: {"h1": H1}}  # not modified


def test_partial_space_tuner_proposes_the_fixed_part_and_tunes_the_rest() -> None:
    from nasctl.runtime.trial import validate_architecture

    from nasctl import tuners

    fixed = {BLOCK: {"h1": H1, "h2": H2}}
    tuner = PartialSpaceTuner(lambda: tuners.create("Random", seed=3), fixed)
    tuner.update_search_space(SPACE)
    proposals = [tuner.generate_parameters(i) for i in range(6)]
    for parameters in proposals:
        validate_architecture(parameters, SPACE)  # complete and inside the space
        assert parameters[BLOCK] == fixed[BLOCK]
    pairs = {(p["t/lr/choice"], p["t/act/function_choice"]) for p in proposals}
    assert len(pairs) == 6  # Random never repeats: the 6 open combinations
    with pytest.raises(tuners.NoMoreTrialError):
        tuner.generate_parameters(6)
    tuner.receive_trial_result(0, proposals[0], 1.0)  # the inner tuner accepts the restricted parameters


def test_partial_space_tuner_with_nothing_open_repeats_the_architecture() -> None:
    fixed = {BLOCK: {"h1": H1, "h2": H2}, "t/lr/choice": 0.1, "t/act/function_choice": "relu(h)"}
    tuner = PartialSpaceTuner(lambda: pytest.fail("no tuner is needed"), fixed)
    tuner.update_search_space(SPACE)
    assert [tuner.generate_parameters(i) for i in range(3)] == [fixed] * 3


# -- the architecture: key -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), [
    (3, r"key 'architecture': expected an architecture JSON file \(a path\) or \{experiment: ID, trial: T\}"),
    ({"experiment": "abc"}, r"key 'architecture.trial': missing required key"),
    ({"experiment": "abc", "trial": "T", "seed": 1}, r"key 'architecture.seed': unknown key"),
])
def test_a_malformed_architecture_key_is_named(project: Path, helpers: Any, value: Any, message: str) -> None:
    path = helpers.write_config(project, _config(project, helpers, architecture=value))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_retrain_runs_in_classic_mode(project: Path, helpers: Any) -> None:
    config = _config(project, helpers, architecture="arch.json", nasMode="darts")
    with pytest.raises(ConfigError, match=r"config.yml:\d+, key 'nasMode': a retrain \(architecture:\) runs in "
                                          r"classic mode, but nasMode is 'darts'"):
        load_config(helpers.write_config(project, config))


@pytest.mark.parametrize(("architecture", "message"), [
    (None, r"config.yml:\d+, key 'architecture': architecture file .*arch.json does not exist"),
    ({"x": 9}, r"key 'architecture': architecture file .*arch.json does not fit this experiment's search space: "
               r"architecture key 'x': 9 is not one of the choices \[1, 2, 3, 4, 5\]"),
    ({"z": 1}, r"key 'architecture': .* architecture key 'z': not in the search space"),
    ({}, r"key 'architecture': architecture file .*arch.json is empty"),
])
def test_a_bad_architecture_file_is_an_error_naming_the_key(project: Path, helpers: Any, nas_home: Path,
                                                            architecture: Any, message: str) -> None:
    if architecture is not None:
        (project / "arch.json").write_text(json.dumps(architecture))
    path = helpers.write_config(project, _config(project, helpers, architecture="arch.json"))
    with pytest.raises(ConfigError, match=message):
        Experiment.from_yaml(path).create()
    assert not list(nas_home.glob("*/experiment.db"))  # nothing left behind


def test_an_unknown_experiment_or_trial_is_named(project: Path, helpers: Any, nas_home: Path) -> None:
    path = helpers.write_config(project, _config(project, helpers, architecture={"experiment": "nope", "trial": "T"}))
    with pytest.raises(ConfigError, match=r"config.yml:\d+, key 'architecture.experiment': no experiment 'nope'"):
        Experiment.from_yaml(path).create()
    source = Experiment(_config(project, helpers, maxTrialNumber=1), base_dir=project, id="source")
    assert source.run() == "DONE"
    path = helpers.write_config(project, _config(project, helpers, architecture={"experiment": "source",
                                                                                 "trial": "nope"}))
    with pytest.raises(ConfigError, match=r"key 'architecture.trial': experiment source has no trial 'nope' "
                                          r"\(its trials: \w{5}\)"):
        Experiment.from_yaml(path).create()


def test_retrain_of_a_file_that_fixes_everything_runs_max_trial_number_trials(project: Path, helpers: Any,
                                                                               nas_home: Path) -> None:
    (project / "arch.json").write_text(json.dumps({"x": 3, "y": 1}))
    config = _config(project, helpers, architecture="arch.json", maxTrialNumber=3)
    del config["tuner"]
    exp = Experiment(config, base_dir=project, id="retrain")
    assert exp.run() == "DONE"
    trials = exp.trials()
    assert [t.parameters for t in trials] == [{"x": 3, "y": 1}] * 3
    assert _received(exp) == [{"x": 3, "y": 1}] * 3
    assert len({t.value for t in trials}) == 1
    shown = json.loads(helpers.nasctl("experiment", "show", "retrain", env={"NAS_HOME": str(nas_home)}).stdout)
    assert shown["architecture"] == {"source": {"file": str(project / "arch.json")},
                                     "architecture": {"x": 3, "y": 1}}


def test_retrain_tunes_only_what_the_architecture_leaves_open(project: Path, helpers: Any, nas_home: Path) -> None:
    (project / "arch.json").write_text(json.dumps({"x": 5}))
    exp = Experiment(_config(project, helpers, architecture="arch.json", maxTrialNumber=2), base_dir=project)
    assert exp.run() == "DONE"
    parameters = [t.parameters for t in exp.trials()]
    # The tuner proposes every key of the space it is given: x stays 5 only if it was given y alone.
    assert [p["x"] for p in parameters] == [5, 5]
    assert all(p["y"] in (0, 1) for p in parameters)
    assert sorted(_received(exp), key=lambda p: p["y"]) == sorted(parameters, key=lambda p: p["y"])


def test_retrain_from_a_trial_of_a_stored_experiment(project: Path, helpers: Any, nas_home: Path) -> None:
    source = Experiment(_config(project, helpers, maxTrialNumber=1), base_dir=project, id="search")
    assert source.run() == "DONE"
    trial = source.trials()[0]
    config = _config(project, helpers, architecture={"experiment": "search", "trial": trial.trial_id},
                     maxTrialNumber=2)
    del config["tuner"]
    exp = Experiment(config, base_dir=project)
    assert exp.run() == "DONE"
    assert [t.parameters for t in exp.trials()] == [trial.parameters] * 2
    assert exp.retrain_architecture() == {"source": {"experiment": "search", "trial": trial.trial_id},
                                          "architecture": trial.parameters}


# -- one-shot experiments without a tuner ----------------------------------------------------------------


def test_tunerless_darts_trials_get_seeded_values_for_the_variables(project: Path, helpers: Any,
                                                                    nas_home: Path) -> None:
    space = {BLOCK: SPACE[BLOCK], "x": {"_type": "choice", "_value": [1, 2, 3, 4, 5]},
             "y": {"_type": "choice", "_value": [0, 1]}}
    runs = []
    for name in ("a", "b"):
        config = _config(project, helpers, nasMode="darts", searchSpace=space, maxTrialNumber=3)
        del config["tuner"], config["searchSpaceFile"]
        exp = Experiment(config, base_dir=project, id=name)
        assert exp.run() == "DONE"
        runs.append([t.parameters for t in exp.trials()])
    assert runs[0] == runs[1]  # seeded from the experiment seed
    assert all(sorted(p) == ["x", "y"] for p in runs[0])  # the supernet decides the block
    assert len({(p["x"], p["y"]) for p in runs[0]}) == 3


# -- export --sample -----------------------------------------------------------------------------------------


WEIGHTS = {BLOCK: {"h1": {"layer": {"a()": 0.1, "b()": 0.9}, "inputs": {}},
                   "h2": {"layer": {"a()": 0.0, "b()": 0.0, "c()": 1.0}, "inputs": {"x": 0.0, "y": 1.0}}}}


def _darts_experiment(project: Path, helpers: Any, weights: dict[str, Any] | None,
                      monkeypatch: pytest.MonkeyPatch) -> str:
    config = _config(project, helpers, nasMode="darts", searchSpace={BLOCK: SPACE[BLOCK]}, maxTrialNumber=1)
    del config["tuner"], config["searchSpaceFile"]
    with monkeypatch.context() as patch:
        patch.setenv("TEST_ARCH_WEIGHTS", json.dumps(weights) if weights else "")
        exp = Experiment(config, base_dir=project)
        assert exp.run() == "DONE"
    return exp.id


def test_export_sample_draws_from_the_last_reported_weights(project: Path, helpers: Any, nas_home: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasctl.runtime.trial import validate_architecture

    exp_id = _darts_experiment(project, helpers, WEIGHTS, monkeypatch)
    env = {"NAS_HOME": str(nas_home)}
    out = helpers.nasctl("experiment", "export", exp_id, "--sample", "40", "--seed", "1", env=env)
    assert out.returncode == 0, out.stderr
    samples = json.loads(out.stdout)
    assert len(samples) == 40
    for sample in samples:
        validate_architecture(sample, {BLOCK: SPACE[BLOCK]})
        assert sample[BLOCK]["h2"] == H2  # probability 1
    assert 25 <= sum(s[BLOCK]["h1"]["chosen_layer"] == "b()" for s in samples) <= 40
    again = helpers.nasctl("experiment", "export", exp_id, "--sample", "40", "--seed", "1", env=env)
    assert json.loads(again.stdout) == samples

    folder = tmp_path / "samples"
    trial_id = Experiment.load(exp_id).trials()[0].trial_id
    out = helpers.nasctl("experiment", "export", exp_id, "--sample", "3", "--trial", trial_id, "-o", str(folder),
                         env=env)
    assert out.returncode == 0, out.stderr
    assert f"3 architectures sampled from trial {trial_id}" in out.stderr
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["arch-0.json", "arch-1.json", "arch-2.json"]
    for file in files:  # each one is usable as `architecture:` of a retrain
        validate_architecture(json.loads(file.read_text()), {BLOCK: SPACE[BLOCK]})


def test_export_sample_without_weights_is_a_clear_error(project: Path, helpers: Any, nas_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    exp_id = _darts_experiment(project, helpers, None, monkeypatch)
    env = {"NAS_HOME": str(nas_home)}
    out = helpers.nasctl("experiment", "export", exp_id, "--sample", "2", env=env)
    assert out.returncode == 2
    assert "has no trial that reported architecture weights: --sample needs a darts experiment" in out.stderr
    assert "Traceback" not in out.stderr
    trial_id = Experiment.load(exp_id).trials()[0].trial_id
    out = helpers.nasctl("experiment", "export", exp_id, "--sample", "2", "--trial", trial_id, env=env)
    assert out.returncode == 2 and f"trial {trial_id} reported no architecture weights" in out.stderr
    out = helpers.nasctl("experiment", "export", exp_id, "--sample", "0", env=env)
    assert out.returncode == 2 and "must be a positive integer, got 0" in out.stderr


def test_retrain_without_a_tuner_draws_the_rest_with_random_and_replays_on_resume(project: Path, helpers: Any,
                                                                                   nas_home: Path) -> None:
    from nasctl.runtime.manager._storage import Storage
    from nasctl.runtime.manager._tuner import create_tuner, restore_tuner

    from nasctl import tuners

    (project / "arch.json").write_text(json.dumps({"x": 4}))
    config = _config(project, helpers, architecture="arch.json", maxTrialNumber=2)
    del config["tuner"]
    exp = Experiment(config, base_dir=project)
    assert exp.run() == "DONE"
    assert sorted((t.parameters["x"], t.parameters["y"]) for t in exp.trials()) == [(4, 0), (4, 1)]
    # What a resumed manager does: a fresh tuner, then the inner tuner's checkpoint (through the
    # wrapper), or every stored event replayed through the wrapper.
    storage = Storage(exp.db_path, readonly=True)
    try:
        assert storage.latest_checkpoint() is not None
        for use_checkpoint in (True, False):
            tuner = create_tuner(exp.config.tuner, storage.meta("seed"), fixed=storage.meta("architecture"))
            tuner.update_search_space(storage.meta("search_space"))
            replayed = restore_tuner(tuner, storage, exp.dir, use_checkpoint=use_checkpoint)
            assert (replayed > 0) is not use_checkpoint
            with pytest.raises(tuners.NoMoreTrialError):  # Random has seen both open values of y
                tuner.generate_parameters(100)
    finally:
        storage.close()


def test_retrain_of_a_one_shot_trial_fixes_its_blocks_and_function_choices(project: Path, helpers: Any,
                                                                          nas_home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(project, helpers, nasMode="darts", searchSpace=SPACE, maxTrialNumber=1)
    del config["tuner"], config["searchSpaceFile"]
    derived = {BLOCK: {"h1": H1, "h2": H2}}
    with monkeypatch.context() as patch:
        patch.setenv("TEST_DERIVED", json.dumps(derived))
        search = Experiment(config, base_dir=project, id="search")
        assert search.run() == "DONE"
    trial = search.trials()[0]
    assert sorted(trial.parameters) == ["t/act/function_choice", "t/lr/choice"]  # Random, tunerless darts
    assert trial.derived_architecture == derived

    config = _config(project, helpers, searchSpace=SPACE, maxTrialNumber=3,
                     architecture={"experiment": "search", "trial": trial.trial_id})
    del config["tuner"], config["searchSpaceFile"]
    exp = Experiment(config, base_dir=project)
    assert exp.run() == "DONE"
    fixed = {**derived, "t/act/function_choice": trial.parameters["t/act/function_choice"]}
    assert exp.retrain_architecture()["architecture"] == fixed
    parameters = [t.parameters for t in exp.trials()]
    assert all({key: p[key] for key in fixed} == fixed for p in parameters)
    assert sorted(p["t/lr/choice"] for p in parameters) == [0.001, 0.01, 0.1]  # only the variable is tuned
