"""examples/sigeo, shrunk: the warm-up + search experiment, then a retrain of its best exported subnet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from nasctl.runtime.manager import Experiment

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sigeo"


def run(helpers: Any, nas_home: Path, tmp_path: Path, name: str, config: dict[str, Any]) -> Experiment:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    done = helpers.nasctl("run", str(path), "--id", name, "--no-progress", env={"NAS_HOME": str(nas_home)})
    assert done.returncode == 0, done.stderr
    exp = Experiment.load(name, nas_home=nas_home)
    assert [t.status for t in exp.trials()] == ["SUCCEEDED"] * len(exp.trials()), [
        t.stderr_tail for t in exp.trials()]
    return exp


def test_warmup_search_and_retrain(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    pytest.importorskip("torch")
    warmup = yaml.safe_load((EXAMPLE / "warmup.yml").read_text())
    assert warmup["oneshot"]["strategy"] == "any_path" and warmup["oneshot"]["evolution"]["top_k"] == 3
    warmup["oneshot"]["warmup"] = {"samples": 600}
    warmup["oneshot"]["evolution"].update(population=4, children=2, generations=1, proxy_batches=2)
    warmup.update(trialCodeDirectory=str(EXAMPLE), trialCommand="python3 nasrec.py --rows 2000 --batch-size 128")
    exp = run(helpers, nas_home, tmp_path, "warmup", warmup)
    (trial,) = exp.trials()
    folder = nas_home / "warmup" / "trials" / trial.trial_id
    assert (folder / "supernet.pt").is_file()
    assert "warm-up: 600 samples in 5 steps" in (folder / "stdout").read_text()
    best = json.loads((folder / "architectures" / "arch-0.json").read_text())
    assert sorted(arch := next(iter(best.values()))) == ["dense1", "dense2", "dense3", "sparse1", "sparse2", "sparse3"]
    assert all(choice["chosen_layer"] for choice in arch.values())

    retrain = yaml.safe_load((EXAMPLE / "retrain-0.yml").read_text())
    assert retrain["nasMode"] == "classic" and retrain["architecture"] == "architectures/arch-0.json"
    retrain.update(trialCodeDirectory=str(EXAMPLE), trialCommand="python3 nasrec.py --rows 2000 --epochs 1",
                   maxTrialNumber=1, architecture=str(folder / "architectures" / "arch-0.json"))
    (retrained,) = run(helpers, nas_home, tmp_path, "retrain", retrain).trials()
    assert retrained.parameters == best and 0.2 < retrained.default_value < 1.0
