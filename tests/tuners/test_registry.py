"""`nasctl.tuners.create`: built-ins by name (NNI's spellings too), custom `module:Class`, clear errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from nasctl import tuners


@pytest.fixture
def isolated_imports(monkeypatch):
    """Undo what loading a custom tuner does to sys.path and sys.modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))


@pytest.mark.parametrize("name, cls", [
    ("Random", tuners.RandomTuner), ("random", tuners.RandomTuner), ("RandomSearch", tuners.RandomTuner),
    ("GridSearch", tuners.GridSearchTuner), ("grid_search", tuners.GridSearchTuner),
    ("Evolution", tuners.EvolutionTuner), ("EvolutionTuner", tuners.EvolutionTuner),
    ("TPE", tuners.TPETuner), ("tpe", tuners.TPETuner),
    ("Reinforce", tuners.ReinforceTuner), ("PPO", tuners.PPOTuner), ("PPOTuner", tuners.PPOTuner),
])
def test_builtin_names(name, cls):
    assert type(tuners.create(name)) is cls


def test_every_builtin_takes_optimize_mode_and_seed():
    for name in tuners.builtin_names():
        tuner = tuners.create(name, optimize_mode="minimize", seed=3)
        assert (tuner.optimize_mode, tuner.seed) == ("minimize", 3)


def test_unknown_name_lists_the_builtins():
    with pytest.raises(tuners.TunerArgumentError,
                       match="unknown tuner 'Bayes'; built-in tuners: Random, GridSearch, Evolution, TPE, Reinforce, PPO"):
        tuners.create("Bayes")


def test_unknown_class_argument_lists_the_accepted_ones():
    with pytest.raises(tuners.TunerArgumentError, match="tuner Evolution takes no class argument 'population'; "
                       "accepted: optimize_mode, seed, population_size, sample_size"):
        tuners.create("Evolution", population=10)


def write_module(tmp_path, name, body):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return tmp_path


CUSTOM = """
    from nasctl.tuners import Tuner

    class Fixed(Tuner):
        def __init__(self, value, optimize_mode="maximize"):
            if value < 0:
                raise ValueError("value must be >= 0")
            self.value = value
        def update_search_space(self, search_space):
            self.key = next(iter(search_space))
        def generate_parameters(self, parameter_id, **kwargs):
            return {self.key: self.value}
        def receive_trial_result(self, parameter_id, parameters, value, **kwargs):
            self.last = value

    class NotATuner:
        pass
"""


def test_custom_tuner_from_a_code_directory(tmp_path, isolated_imports):
    code_dir = write_module(tmp_path, "fixed_tuner_a", CUSTOM)
    for name in ("fixed_tuner_a:Fixed", "fixed_tuner_a.Fixed"):
        tuner = tuners.create(name, code_dir=code_dir, value=3)
        tuner.update_search_space({"k": {"_type": "choice", "_value": [3]}})
        assert tuner.generate_parameters(0) == {"k": 3}


def test_two_code_directories_with_the_same_module_name_each_get_their_own(tmp_path, isolated_imports):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_module(tmp_path / "one", "same_name_tuner", CUSTOM)
    second = write_module(tmp_path / "two", "same_name_tuner",
                          CUSTOM.replace("{self.key: self.value}", "{self.key: -self.value}"))
    space = {"k": {"_type": "choice", "_value": [3, -3]}}
    for code_dir, expected in ((first, 3), (second, -3), (first, 3)):
        tuner = tuners.create("same_name_tuner:Fixed", code_dir=code_dir, value=3)
        tuner.update_search_space(space)
        assert tuner.generate_parameters(0) == {"k": expected}


@pytest.mark.parametrize("name, args, match", [
    ("fixed_tuner_b:Fixed", {}, "tuner fixed_tuner_b:Fixed needs class argument\\(s\\) value; accepted: value, optimize_mode"),
    ("fixed_tuner_b:Fixed", {"value": 1, "seed": 2}, "takes no class argument 'seed'; accepted: value, optimize_mode"),
    ("fixed_tuner_b:Fixed", {"value": -1}, "bad class arguments \\{'value': -1\\}: value must be >= 0"),
    ("fixed_tuner_b:Missing", {}, "module 'fixed_tuner_b' has no class 'Missing'; its classes: Fixed, NotATuner"),
    ("fixed_tuner_b:NotATuner", {}, "NotATuner is not a tuner .*update_search_space, generate_parameters"),
    ("no_such_module:Tuner", {}, "cannot import module 'no_such_module' in code directory"),
])
def test_custom_tuner_errors(tmp_path, isolated_imports, name, args, match):
    code_dir = write_module(tmp_path, "fixed_tuner_b", CUSTOM)
    with pytest.raises(tuners.TunerArgumentError, match=match):
        tuners.create(name, code_dir=code_dir, **args)


def test_custom_module_that_fails_to_import(tmp_path, isolated_imports):
    code_dir = write_module(tmp_path, "broken_tuner", "raise RuntimeError('no GPU here')\n")
    with pytest.raises(tuners.TunerError, match="importing module 'broken_tuner' failed: RuntimeError: no GPU here"):
        tuners.create("broken_tuner:T", code_dir=code_dir)


def test_missing_code_directory(tmp_path):
    with pytest.raises(tuners.TunerArgumentError, match="code directory .*nowhere does not exist"):
        tuners.create("m:T", code_dir=tmp_path / "nowhere")


def test_checkpoint_errors(tmp_path):
    tuner = tuners.create("Random", seed=0)
    tuner.update_search_space({"k": {"_type": "choice", "_value": [1, 2]}})
    with pytest.raises(tuners.CheckpointError, match="no tuner checkpoint at .*missing.ckpt"):
        tuner.load_checkpoint(tmp_path / "missing.ckpt")
    (tmp_path / "garbage.ckpt").write_bytes(b"not a pickle")
    with pytest.raises(tuners.CheckpointError, match="garbage.ckpt is not a readable tuner checkpoint"):
        tuner.load_checkpoint(tmp_path / "garbage.ckpt")
    tuners.create("Evolution").save_checkpoint(tmp_path / "evo.ckpt")
    with pytest.raises(tuners.CheckpointError, match="is a checkpoint of nasctl.tuners._evolution.EvolutionTuner, "
                       "not of nasctl.tuners._random.RandomTuner"):
        tuner.load_checkpoint(tmp_path / "evo.ckpt")
