"""A layer annotated inside `for i in range(3)`: three keys and three independent sets of weights in
every mode, and a count beyond the search space's named with both counts."""

from __future__ import annotations

import textwrap

import pytest
import torch
from nasctl.runtime.errors import ArchitectureError
from nasctl.runtime.trial import StandalonePlatform, TrialContext, derive_architecture, use_context

from nasctl import annotator

SOURCE = textwrap.dedent('''
    import torch
    from torch import nn

    class Lin(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.fc = nn.Linear(n, n)

        def forward(self, inputs):
            return self.fc(inputs[0][0])

    class Gate(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(n))

        def forward(self, inputs):
            return torch.tanh(inputs[0][0] * self.scale)

    class Net(nn.Module):
        def forward(self, x):
            for i in range(3):
                """@nas.mutable_layer({layer_choice: [Lin(4), Gate(4)], fixed_inputs: [x], layer_output: x})"""
            return x
''')
KEYS = [f"net/Net.forward/x[{i}]" for i in range(3)]
ARCHITECTURE = {key: {"x": {"chosen_layer": label, "chosen_inputs": []}}
                for key, label in zip(KEYS, ["Lin(4)", "Gate(4)", "Lin(4)"], strict=True)}


@pytest.mark.parametrize("mode", ["classic", "enas", "oneshot", "darts"])
def test_a_loop_of_three_layers_has_three_keys_and_three_sets_of_weights(mode):
    result = annotator.compile_source(SOURCE, "net", mode)
    assert list(result.search_space) == KEYS
    architecture = ARCHITECTURE if mode in ("classic", "enas") else {}
    context = TrialContext(StandalonePlatform(architecture=architecture), mode=mode)
    namespace: dict = {}
    with use_context(context):
        exec(compile(result.code, "net.py", "exec"), namespace)
        model = namespace["Net"]()
        model(torch.randn(2, 4))
        derived = derive_architecture(context=context) if mode != "oneshot" else None
    names = sorted(model.nas_candidates)
    per_iteration = [[name for name in names if f"_x_{i}___" in name] for i in range(3)]
    built = 1 if mode == "classic" else 2  # enas, oneshot, darts build every candidate
    assert [len(group) for group in per_iteration] == [built] * 3
    storages = [p.data_ptr() for p in model.parameters()]
    assert len(storages) == len(set(storages))  # no weight shared between iterations
    if mode == "darts":
        assert sorted(derived) == KEYS
        assert len(context.backends[0].arch_parameters()) == 3  # one alpha per iteration
    elif derived is not None:
        assert derived == ARCHITECTURE


def test_an_iteration_beyond_the_search_space_names_the_key_and_both_counts():
    import nas

    with pytest.raises(ArchitectureError, match=r"key 'm/d/choice': the search space repeats this choice 3 "
                                                r"times, but the loop reached iteration 4"):
        nas.loop_key("m/d/choice", (3,), (3,))
