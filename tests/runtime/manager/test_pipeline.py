"""The search -> retrain pipeline end to end (torch): darts search, export, retrain, codegen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from nasctl.runtime.manager import Experiment  # noqa: E402
from nasctl.runtime.trial import validate_architecture  # noqa: E402
from nasctl.runtime.view import trial_detail  # noqa: E402

# Two searched layers (one with an optional input) and a learning-rate variable; a few steps of a
# tiny regression. Each trial of an experiment writes the parameters it received to received.json.
NET = '''\
"""A tiny annotated regression."""
import json
import os

import torch
from torch import nn


class Lin(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.f = nn.Linear(n, n)

    def forward(self, inputs):
        fixed, chosen = inputs
        return self.f(fixed[0]) + sum(chosen)


class Act(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, inputs):
        fixed, chosen = inputs
        x = fixed[0] + sum(chosen)
        return torch.tanh(x) if self.kind == "tanh" else torch.relu(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        """@nas.mutable_layers(
            {layer_choice: [Lin(4), Act("tanh")], fixed_inputs: [x], layer_output: h1},
            {layer_choice: [Lin(4), Act("relu")], fixed_inputs: [h1], optional_inputs: [x],
             optional_input_size: [0, 1], layer_output: h2}
        )"""
        return self.head(h2).squeeze(-1)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(int(os.environ.get("NAS_TRIAL_SEED", "0")))
    # @nas.variable(nas.choice(0.05, 0.01), name=lr)
    lr = 0.05
    x, xv = torch.randn(64, 4), torch.randn(32, 4)
    y, yv = x.sum(dim=1), xv.sum(dim=1)
    model = Net()
    model(x[:2])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(20):
        loss = ((model(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        val = ((model(xv) - yv) ** 2).mean()
        """@nas.training_update(loss=val)"""
    if os.environ.get("NAS_PLATFORM"):
        import nas

        with open("received.json", "w") as handle:
            json.dump(nas.get_current_parameter(), handle)
    print("VALUE", -float(val))
    """@nas.report_final_result(-float(val))"""


main()
'''


def _nasctl(helpers: Any, nas_home: Path, *args: str) -> subprocess.CompletedProcess:
    out = helpers.nasctl(*args, env={"NAS_HOME": str(nas_home)}, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def test_darts_search_then_retrain_the_derived_architecture(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    code = tmp_path / "code"
    helpers.write(code / "net.py", NET)
    search = {"experimentName": "search", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
              "useAnnotation": True, "nasMode": "darts", "darts": {"optimizer": {"lr": 0.05}, "report_every": 5},
              "maxTrialNumber": 1, "seed": 11, "trainingService": {"platform": "local"}}
    _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, search, "search.yml")), "--id", "search",
            "--no-progress")

    exported = json.loads(_nasctl(helpers, nas_home, "experiment", "export", "search").stdout)
    assert len(exported) == 1 and exported[0]["status"] == "SUCCEEDED"
    trial_id, derived = exported[0]["trial_id"], exported[0]["derived_architecture"]
    space = Experiment.load("search").info()["search_space"]
    layers = {key: value for key, value in space.items() if value["_type"] == "mutable_layer"}
    validate_architecture(derived, layers)  # every layer decided, nothing else
    assert list(exported[0]["parameters"]) == ["net/lr/choice"]  # no tuner: Random drew the variable
    assert exported[0]["arch_weights"] and all("arch_weights" in value for value in exported[0]["arch_weights"])
    assert not any("arch_weights" in value for value in exported[0]["intermediate"] if isinstance(value, dict))
    plotted = trial_detail(nas_home, "search", trial_id)["arch_weights"]  # what the view draws
    assert plotted["steps"] == [5, 10, 15, 20]  # report_every 5, 20 architecture steps
    assert all(len(s["values"]) == 4 and 0 <= min(s["values"]) <= max(s["values"]) <= 1 for s in plotted["series"])

    samples = json.loads(_nasctl(helpers, nas_home, "experiment", "export", "search", "--sample", "3").stdout)
    for sample in samples:
        validate_architecture(sample, layers)

    retrain = {"experimentName": "retrain", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
               "useAnnotation": True, "architecture": {"experiment": "search", "trial": trial_id},
               "maxTrialNumber": 2, "trialConcurrency": 2, "seed": 5, "trainingService": {"platform": "local"}}
    _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, retrain, "retrain.yml")), "--id",
            "retrain", "--no-progress")
    exp = Experiment.load("retrain")
    assert exp.config.nas_mode == "classic"
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    received = [json.loads((exp.dir / "trials" / t.trial_id / "received.json").read_text()) for t in trials]
    for parameters, trial in zip(received, trials, strict=True):
        assert parameters == trial.parameters
        assert {key: parameters[key] for key in layers} == derived  # exactly the derived layers
    assert sorted(p["net/lr/choice"] for p in received) == [0.01, 0.05]  # the variable was tuned
    shown = json.loads(_nasctl(helpers, nas_home, "experiment", "show", "retrain").stdout)
    assert shown["architecture"] == {"source": {"experiment": "search", "trial": trial_id}, "architecture": derived}

    out = tmp_path / "classic"
    _nasctl(helpers, nas_home, "trial", "codegen", "search", "--trial_id", trial_id, "-o", str(out))
    generated = (out / "net.py").read_text()
    assert "@nas" not in generated and "_nas." not in generated
    for key, block in derived.items():
        for layer, choice in block.items():
            others = [c for c in space[key]["_value"][layer]["layer_choice"] if c != choice["chosen_layer"]]
            line = next(row for row in generated.splitlines() if row.strip().startswith(f"{layer} ="))
            assert choice["chosen_layer"].split("(")[0] in line, line
            assert not any(other.split("(")[0] in line for other in others), line
    run = subprocess.run([sys.executable, "net.py"], cwd=out, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("VALUE ")
