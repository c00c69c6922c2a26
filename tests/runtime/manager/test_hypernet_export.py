"""A darts search with alpha(lambda), `export --lambdas/--frontier`, and one retrain of the whole folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from nasctl.runtime.manager import Experiment  # noqa: E402
from nasctl.runtime.trial import validate_architecture  # noqa: E402

# Two layers, each a linear map (20 parameters) or a parameter-free activation; the target is linear,
# so a small penalty keeps the maps and a large one drops them. Each trial writes what it received.
NET = '''\
"""A tiny annotated regression whose layers cost 20 parameters or none."""
import json
import os

import torch
from torch import nn


class Lin(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(4, 4)

    def forward(self, inputs):
        return self.f(inputs[0][0])


class Act(nn.Module):
    def forward(self, inputs):
        return torch.tanh(inputs[0][0])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        """@nas.mutable_layers(
            {layer_choice: [Lin(), Act()], fixed_inputs: [x], layer_output: h1},
            {layer_choice: [Lin(), Act()], fixed_inputs: [h1], layer_output: h2}
        )"""
        return self.head(h2).squeeze(-1)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(int(os.environ.get("NAS_TRIAL_SEED", "0")))
    x, xv = torch.randn(64, 4), torch.randn(32, 4)
    y, yv = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]), xv @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = Net()
    model(x[:2])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
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
    """@nas.report_final_result(-float(val))"""


main()
'''
BLOCK = "net/Net.forward/h1"


def _nasctl(helpers: Any, nas_home: Path, *args: str, ok: bool = True) -> Any:
    out = helpers.nasctl(*args, env={"NAS_HOME": str(nas_home)}, timeout=300)
    assert (out.returncode == 0) == ok, out.stderr
    return out


def _lins(architecture: dict[str, Any]) -> int:
    return sum(choice["chosen_layer"] == "Lin()" for choice in architecture[BLOCK].values())


def test_search_export_budgets_and_retrain_them_all(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    code = tmp_path / "code"
    helpers.write(code / "net.py", NET)
    search = {"experimentName": "search", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
              "useAnnotation": True, "nasMode": "darts",
              "darts": {"optimizer": {"lr": 0.1, "weight_decay": 0.0}, "report_every": 1000,
                        "complexity": {"metric": "params", "hypernet": {"knots": 4}, "lambda": [1e-6, 10.0]}},
              "maxTrialNumber": 1, "seed": 3, "trainingService": {"platform": "local"}}
    _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, search, "search.yml")), "--id", "search",
            "--no-progress")
    space = Experiment.load("search").info()["search_space"]

    out = tmp_path / "budgets"
    shown = _nasctl(helpers, nas_home, "experiment", "export", "search", "--lambdas", "0,0.5,1", "-o", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["costs.json", "lambda-0.5.json", "lambda-0.json", "lambda-1.json"]
    costs = json.loads((out / "costs.json").read_text())
    assert [c["lambda_normalised"] for c in costs] == [0.0, 0.5, 1.0]
    assert costs[0]["lambda"] == pytest.approx(1e-6) and costs[2]["lambda"] == pytest.approx(10.0)
    for entry in costs:
        architecture = json.loads((out / entry["file"]).read_text())
        validate_architecture(architecture, space)
        assert entry["params"] == 20 * _lins(architecture) and entry["cost"] == entry["params"]
        assert 0 <= entry["expected_cost"] <= 40
    assert costs[0]["params"] > costs[2]["params"] == 0, costs  # almost no penalty vs a huge one
    assert "3 architectures (3 distinct)" in shown.stderr or "3 architectures (2 distinct)" in shown.stderr

    frontier = tmp_path / "frontier"
    _nasctl(helpers, nas_home, "experiment", "export", "search", "--frontier", "5", "-o", str(frontier))
    files = sorted(p for p in frontier.iterdir() if p.name != "costs.json")
    found = [json.loads(p.read_text()) for p in files]
    assert 2 <= len(found) <= 3 and len({json.dumps(a, sort_keys=True) for a in found}) == len(found)
    params = [c["params"] for c in json.loads((frontier / "costs.json").read_text())]
    assert params == sorted(params, reverse=True) and params[0] > 0 and params[-1] == 0

    refused = _nasctl(helpers, nas_home, "experiment", "export", "search", "--lambdas", "0,2", ok=False)
    assert "--lambdas: '2' is not a normalised lambda, a number in [0, 1]" in refused.stderr
    refused = _nasctl(helpers, nas_home, "experiment", "export", "search", "--frontier", "2", "-o", str(frontier),
                      ok=False)
    assert "must be new or empty" in refused.stderr

    retrain = {"experimentName": "retrain", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
               "useAnnotation": True, "architecture": str(frontier), "trialConcurrency": 2,
               "trainingService": {"platform": "local"}}
    _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, retrain, "retrain.yml")), "--id",
            "retrain", "--no-progress")
    exp = Experiment.load("retrain")
    trials = sorted(exp.trials(), key=lambda t: t.sequence)
    assert [t.status for t in trials] == ["SUCCEEDED"] * len(found)  # one trial per file, by default
    received = [json.loads((exp.dir / "trials" / t.trial_id / "received.json").read_text()) for t in trials]
    assert received == found  # trial k trains the k-th file


def test_export_budgets_needs_a_hypernet_search(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    code = tmp_path / "code"
    helpers.write(code / "net.py", NET)
    search = {"experimentName": "plain", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
              "useAnnotation": True, "nasMode": "darts", "maxTrialNumber": 1, "seed": 3,
              "trainingService": {"platform": "local"}}
    _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, search)), "--id", "plain", "--no-progress")
    refused = _nasctl(helpers, nas_home, "experiment", "export", "plain", "--frontier", "3", ok=False)
    assert "has no trial that reported alpha(lambda)" in refused.stderr
    assert "darts.complexity.hypernet" in refused.stderr


def test_a_retrained_folder_must_hold_architectures(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    code = tmp_path / "code"
    helpers.write(code / "net.py", NET)
    (tmp_path / "empty").mkdir()
    retrain = {"experimentName": "retrain", "trialCodeDirectory": str(code), "trialCommand": "python3 net.py",
               "useAnnotation": True, "architecture": str(tmp_path / "empty"), "trainingService": {"platform": "local"}}
    refused = _nasctl(helpers, nas_home, "run", str(helpers.write_config(tmp_path, retrain)), ok=False)
    assert "holds no architecture (*.json) file" in refused.stderr
