"""The conformance kit (`nasctl.tuners.testing`) on every built-in tuner, and the kit itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from nasctl.tuners import testing

from nasctl import tuners


def test_every_builtin_is_checked_or_excluded_with_a_reason(kit):
    assert sorted(kit.BUILTIN_NAMES + list(kit.EXCLUDED)) == sorted(tuners.builtin_names())


@pytest.mark.parametrize("prop", list(testing.PROPERTIES))
def test_builtin_tuner_conforms(builtin, prop):
    if prop in builtin.skip:
        pytest.skip(builtin.skip[prop])
    testing.run_property(prop, builtin.make, builtin.space)


def test_builtin_error_messages_say_what_to_do(builtin):
    """The exact texts of the built-ins' messages (the kit checks only what they mention)."""
    tuner = builtin.make(seed=0)
    with pytest.raises(tuners.TunerError, match="update_search_space must be called"):
        tuner.generate_parameters(0)
    tuner.update_search_space(testing.FINITE_SPACE)
    parameters = tuner.generate_parameters(0)
    with pytest.raises(tuners.TunerError, match="parameter 0 is a dict without a 'default' key"):
        tuner.receive_trial_result(0, parameters, {"accuracy": 0.9})
    with pytest.raises(tuners.TunerError, match="import_data entry 1: search space key 'f/k/randint': 3 is outside \\[0, 3\\)"):
        tuner.import_data([{"parameter": parameters, "value": 1.0},
                           {"parameter": {**parameters, "f/k/randint": 3}, "value": 1.0}])
    with pytest.raises(tuners.TunerError, match="import_data entry 0: expected"):
        tuner.import_data([{"params": parameters}])
    with pytest.raises(tuners.TunerError, match="import_data entry 1: the result is 'high'; expected a number or a dict"):
        tuner.import_data([{"parameter": parameters, "value": 1.0}, {"parameter": parameters, "value": "high"}])
    testing.drive(tuner, testing.FINITE_SIZE - 1, start=1)
    with pytest.raises(tuners.NoMoreTrialError, match="all 72 architectures of the search space"):
        tuner.generate_parameters(testing.FINITE_SIZE)
    with pytest.raises(tuners.TunerArgumentError, match="'optimize_mode' must be 'maximize' or 'minimize'"):
        builtin.make(optimize_mode="max")
    with pytest.raises(tuners.TunerArgumentError, match="'seed' must be a non-negative integer"):
        builtin.make(seed="x")


# -- the kit catches what it promises (negative controls) ----------------------------------------


class Repeating(tuners.Tuner):
    """Breaks the kit: a random search that ignores its seed, repeats itself, never runs out, ignores
    imported data and fails with an AttributeError before it has a search space."""

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None) -> None:
        self.rng = np.random.default_rng()

    def update_search_space(self, search_space):
        self.space = tuners.SearchSpace(search_space)

    def generate_parameters(self, parameter_id, **kwargs):
        return self.space.to_architecture(self.space.sample(self.rng))

    def receive_trial_result(self, parameter_id, parameters, value, **kwargs):
        pass


def test_check_tuner_names_each_broken_property():
    with pytest.raises(testing.TunerConformanceError) as raised:
        testing.check_tuner(Repeating)
    message = str(raised.value)
    assert message.startswith("4 of 12 conformance properties broken:")
    for line in ("same_seed_same_sequence: seed 7 twice: proposal 0 differs at key",
                 "finite_space_is_exhausted: 72 proposals in a space of 72 architectures hold only",
                 "import_data_is_used: import_data of an entry with a value outside the space: expected "
                 "TunerError, nothing was raised",
                 "mistakes_are_clear_errors: a proposal before update_search_space: expected TunerError, "
                 "got AttributeError"):
        assert f"\n  {line}" in message
    assert "proposals_stay_in_the_space" not in message and "checkpoint" not in message  # what it does keep


def test_check_proposal_names_the_key_and_the_value():
    arch = {"f/cell/a": {"a": {"chosen_layer": "op1()", "chosen_inputs": ["y", "x"]}}, "f/k/randint": 1,
            "f/q/quniform": 0.5}
    with pytest.raises(testing.TunerConformanceError,
                       match=r"^p: key 'f/cell/a': layer 'a': chosen_inputs \['y', 'x'\] are not optional inputs"):
        testing.check_proposal(testing.FINITE_SPACE, arch, "p")
    arch["f/cell/a"]["a"]["chosen_inputs"] = ["x"]
    testing.check_proposal(testing.FINITE_SPACE, arch, "p")
    with pytest.raises(testing.TunerConformanceError, match="key 'f/q/quniform': 0.25 is not a multiple of 0.5"):
        testing.check_proposal(testing.FINITE_SPACE, {**arch, "f/q/quniform": 0.25})
    with pytest.raises(testing.TunerConformanceError, match=r"missing \['f/k/randint'\], extra \[\]"):
        testing.check_proposal(testing.FINITE_SPACE, {k: v for k, v in arch.items() if k != "f/k/randint"})


def test_unknown_property_names_and_a_missing_factory_are_clear_errors():
    with pytest.raises(tuners.TunerArgumentError, match="skip: unknown conformance property 'seeds'; the properties: "):
        testing.check_tuner(Repeating, skip={"seeds": "no"})

    class TestNothing(testing.TunerConformance):
        pass

    with pytest.raises(tuners.TunerArgumentError, match="TestNothing must set tuner_factory"):
        TestNothing().test_large_input_sets()


def test_the_kit_imports_without_pytest():
    code = ("import sys; sys.modules['pytest'] = None; import nasctl.tuners.testing as t; "
            "from nasctl import tuners; print(len(t.check_tuner(lambda **kw: tuners.create('Random', **kw), "
            "only=['same_seed_same_sequence'])))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
