"""Classic mode without a framework: functions, classes, owners, the no-owner registry."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import ArchitectureError, TrialError

import nas

BLOCK = "m/f/h1"


def concat(inputs, tag="f"):
    fixed, chosen = inputs
    return [tag, *fixed, *chosen]


class Scale:
    made = 0

    def __init__(self, factor):
        Scale.made += 1
        self.factor = factor

    def __call__(self, inputs):
        fixed, chosen = inputs
        return self.factor * (sum(fixed) + sum(chosen))


def layer(owner=None, a=1, b=2, c=3, factor=10, mode="classic"):
    return nas.mutable_layer(
        BLOCK, "h1",
        {"concat(tag='f')": (concat, (), {"tag": "f"}), "concat(tag='g')": (concat, ("g",), {}),
         "Scale(factor)": (Scale, (factor,), {})},
        [a], {"b": b, "c": c}, [0, 2], mode, owner)


def arch(label, inputs):
    return {BLOCK: {"h1": {"chosen_layer": label, "chosen_inputs": inputs}}}


def test_the_chosen_function_runs_on_fixed_and_chosen_inputs(standalone):
    standalone(arch("concat(tag='g')", ["c", "b"]))
    assert layer() == ["g", 1, 3, 2]  # chosen inputs in the architecture's order
    assert layer(a=5, b=6, c=7) == ["g", 5, 7, 6]  # each call passes its own values
    standalone(arch("concat(tag='f')", []))
    assert layer() == ["f", 1]


def test_a_class_is_constructed_once_per_owner_and_kept_on_it(standalone):
    class Owner:
        pass

    standalone(arch("Scale(factor)", ["b"]))
    first, second = Owner(), Owner()
    made = Scale.made
    assert layer(first) == 30 and layer(first, a=2, factor=99) == 40  # built once: factor stays 10
    assert Scale.made == made + 1
    assert list(first.nas_candidates) == ["m_f_h1__h1__2"]
    assert layer(second, factor=5) == 15
    assert Scale.made == made + 2
    assert first.nas_candidates["m_f_h1__h1__2"] is not second.nas_candidates["m_f_h1__h1__2"]


def test_without_an_owner_instances_go_to_the_registry(standalone):
    standalone(arch("Scale(factor)", []))
    assert nas.candidates() == {}
    assert layer() == 10
    assert list(nas.candidates()) == ["m_f_h1__h1__2"]
    assert isinstance(nas.candidates()["m_f_h1__h1__2"], Scale)


def test_a_dead_owner_is_forgotten(standalone):
    import gc

    class Owner:
        pass

    context = standalone(arch("Scale(factor)", []))
    owner = Owner()
    layer(owner)
    assert len(context.layers) == 1
    del owner
    gc.collect()
    assert context.layers == {}


def test_layer_choice_errors_name_the_block(standalone):
    standalone(arch("concat(tag='h')", []))
    with pytest.raises(ArchitectureError, match=rf"'{BLOCK}': layer 'h1': chosen_layer \"concat\(tag='h'\)\" is not "
                                                r"one of its candidates"):
        layer()
    standalone(arch("concat(tag='f')", ["b", "c", "x"]))
    with pytest.raises(ArchitectureError, match="chosen input 'x' is not one of its optional_inputs"):
        layer()
    standalone({"other": 1})
    with pytest.raises(ArchitectureError, match=rf"'{BLOCK}': the trial's architecture has no choice for this block"):
        layer()
    standalone({BLOCK: {"h0": {"chosen_layer": "f", "chosen_inputs": []}}})
    with pytest.raises(ArchitectureError, match="no choice for this layer 'h1' in its block"):
        layer()


def test_without_an_architecture_a_layer_is_sampled_with_the_seed(standalone):
    seen = set()
    for seed in range(30):
        context = standalone(seed=seed)
        layer()
        choice = context.parameters[BLOCK]["h1"]
        assert 0 <= len(choice["chosen_inputs"]) <= 2
        seen.add(choice["chosen_layer"])
    assert len(seen) == 3


def test_an_unregistered_mode_is_a_clear_error(standalone):
    standalone(arch("concat(tag='f')", []))
    with pytest.raises(TrialError, match=r"nas mode 'quantum' is not available: no backend is registered for it "
                                         r"\(available modes: .*classic"):
        layer(mode="quantum")


def test_nni_mode_names_are_accepted(standalone):
    standalone(arch("concat(tag='f')", []))
    assert layer(mode="classic_mode") == ["f", 1]


def test_an_owner_whose_nas_candidates_is_taken(standalone):
    class Owner:
        nas_candidates = 3

    standalone(arch("Scale(factor)", []))
    with pytest.raises(TrialError, match="owner Owner has an attribute 'nas_candidates' that is not a mapping"):
        layer(Owner())


def test_bad_candidate_tables_are_trial_errors(standalone):
    standalone(arch("x", []))
    with pytest.raises(TrialError, match="candidates must be a non-empty dict"):
        nas.mutable_layer(BLOCK, "h1", {}, [1], {}, 0)
    with pytest.raises(TrialError, match="cannot construct candidate 'Scale"):
        standalone(arch("Scale()", []))
        nas.mutable_layer(BLOCK, "h1", {"Scale()": (Scale, (), {})}, [1], {}, 0)


def test_new_parameters_re_resolve_layers(standalone):
    from nasctl.runtime.trial import TrialContext

    class TwoPhases:
        name, samples_missing, seed, trial_id = "test", False, 0, "t"

        def __init__(self):
            self.phases = [arch("concat(tag='f')", []), arch("concat(tag='g')", ["b"])]

        def request_parameters(self):
            return (len(self.phases), self.phases.pop(0)) if self.phases else None

        def close(self):
            pass

    from nasctl.runtime.trial import use_context

    with use_context(TrialContext(TwoPhases())):  # type: ignore[arg-type]
        assert layer() == ["f", 1]
        nas.get_next_parameter()
        assert layer() == ["g", 1, 2]
