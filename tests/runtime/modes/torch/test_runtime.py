"""The torch one-shot backends driven through the trial runtime: registry, context, platform hooks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from nasctl.runtime.modes.torch import arch_parameters, derive_architecture
from nasctl.runtime.trial import InProcessTunerPlatform
from nasctl.runtime.trial._context import TrialContext, mutable_layer
from nasctl.runtime.trial._platform import StandalonePlatform
from nasctl.tuners._enas import ENASTuner
from torch import nn


def compiled_net(kit, mode: str) -> type[nn.Module]:
    """What the compiler writes for the task's layer in `mode`: `_nas.mutable_layer(..., mode, self)`."""

    class Compiled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

        def forward(self, x, s1, s2):
            h = mutable_layer(kit.BLOCK, "h", kit.CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1], mode, self)
            return self.scale * h

    return Compiled


def run(kit, context, mode: str, seed: int = 0, steps: int = 300, update: bool = True):
    from nasctl.runtime.trial._context import use_context

    task = kit.Task(seed)
    torch.manual_seed(seed)
    with use_context(context):
        model = compiled_net(kit, mode)()
        model(*task.batch()[:3])
        optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
        for _ in range(steps):
            optimizer.zero_grad()
            task.loss(model, task.batch()).backward()
            optimizer.step()
            if mode == "darts":
                context.training_update(loss=task.loss(model, task.batch()))
            elif mode == "enas":
                with torch.no_grad():
                    context.report_final_result(-float(task.loss(model, task.batch(64))))
                context.training_update()
    return model, task


def test_darts_through_the_trial_context(kit, capsys):
    platform = StandalonePlatform(architecture={"task/lr/choice": 0.1})
    context = TrialContext(platform, mode_config={"darts": {"optimizer": {"lr": 0.05}, "report_every": 100}})
    model, _ = run(kit, context, "darts")
    weights = arch_parameters(context=context)
    assert len(weights) == 2 and not {id(w) for w in weights} & {id(p) for p in model.parameters()}
    derived = derive_architecture(context=context)
    assert derived == {**kit.TARGET, "task/lr/choice": 0.1}  # variables come from the trial's parameters
    context.report_final_result(0.5)
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("arch_weights result: ") for line in out) == 3  # every 100 steps
    assert not any(line.startswith("intermediate result: ") for line in out)  # the user's curve stays clean
    assert '"arch_weights"' in out[0] and '"step": 100' in out[0]
    assert out[-2].startswith("derived architecture: ") and out[-1] == "final result: 0.5"


def test_enas_through_the_trial_context_with_an_in_process_controller(kit):
    tuner = ENASTuner(seed=0, lr=0.02, batch_size=5, baseline_decay=0.9)
    platform = InProcessTunerPlatform(tuner, kit.SEARCH_SPACE, echo=False)
    context = TrialContext(platform)
    run(kit, context, "enas")
    assert tuner.updates >= 50  # every reward reached the controller
    assert derive_architecture(context=context) == kit.TARGET
    assert platform.architectures[-1] == kit.TARGET


def test_oneshot_and_classic_through_the_trial_context(kit):
    context = TrialContext(StandalonePlatform(architecture={}), mode_config={"oneshot": {"strategy": "single_path"}})
    model, task = run(kit, context, "oneshot", steps=200)
    model.eval()
    assert derive_architecture(task.evaluator(model), budget=9, context=context) == kit.TARGET

    classic = TrialContext(StandalonePlatform(architecture=kit.TARGET))
    run(kit, classic, "classic", steps=1)
    assert derive_architecture(context=classic) == kit.TARGET  # classic: the current architecture
    assert arch_parameters(context=classic) == []


def test_sampling_from_reported_weights_follows_them(kit):
    from nasctl.runtime.errors import ArchitectureError
    from nasctl.runtime.modes.torch import sample_architectures

    weights = {kit.BLOCK: {"h": {"layer": {"Conv(3)": 0.8, "Conv(3, dilation=2)": 0.15, "Conv(1)": 0.05},
                                 "inputs": {"s1": 0.1, "s2": 0.9}}}}
    samples = sample_architectures(weights, kit.SEARCH_SPACE, 400, seed=0)
    layers = [s[kit.BLOCK]["h"] for s in samples]
    assert abs(sum(c["chosen_layer"] == "Conv(3)" for c in layers) / 400 - 0.8) < 0.06
    assert all(len(c["chosen_inputs"]) <= 1 for c in layers)  # clamped to optional_input_size [0, 1]
    assert sum(c["chosen_inputs"] == ["s2"] for c in layers) > 300
    assert sample_architectures(weights, kit.SEARCH_SPACE, 5, seed=3) == sample_architectures(
        weights, kit.SEARCH_SPACE, 5, seed=3)
    with pytest.raises(ArchitectureError, match="architecture key 'other/block'"):
        sample_architectures({"other/block": {}}, kit.SEARCH_SPACE, 1)


def test_the_nas_facing_functions_do_not_import_torch():
    code = ("import sys, runtime.modes.torch as m; m.derive_architecture; m.arch_parameters; "
            "m.sample_architectures; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
