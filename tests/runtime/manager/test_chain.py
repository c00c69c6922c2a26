"""`pipeline:` configs: darts search -> K sampled architectures -> retrain each over a grid -> pick on validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from nasctl.runtime.errors import ConfigError  # noqa: E402
from nasctl.runtime.manager import Experiment  # noqa: E402
from nasctl.runtime.manager._pipeline import Pipeline  # noqa: E402

# Two searched layers and a learning-rate variable on a tiny regression. The final result is a dict:
# `val` picks the architecture, `test` is reported. TEST_TRIAL_SLEEP slows the retrain trials down;
# TEST_ARCH_STEPS limits the architecture steps of the search.
NET = '''\
"""A tiny annotated regression."""
import os
import time

import torch
from torch import nn


class Lin(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.f = nn.Linear(n, n)

    def forward(self, inputs):
        return self.f(inputs[0][0])


class Act(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, inputs):
        x = inputs[0][0]
        return torch.tanh(x) if self.kind == "tanh" else torch.relu(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        """@nas.mutable_layers(
            {layer_choice: [Lin(4), Act("tanh")], fixed_inputs: [x], layer_output: h1},
            {layer_choice: [Lin(4), Act("relu")], fixed_inputs: [h1], layer_output: h2}
        )"""
        return self.head(h2).squeeze(-1)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(int(os.environ.get("NAS_TRIAL_SEED", "0")))
    # @nas.variable(nas.choice(0.05, 0.01), name=lr)
    lr = 0.05
    x, xv, xt = torch.randn(64, 4), torch.randn(32, 4), torch.randn(32, 4)
    y, yv, yt = x.sum(dim=1), xv.sum(dim=1), xt.sum(dim=1)
    model = Net()
    model(x[:2])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    arch_steps = int(os.environ.get("TEST_ARCH_STEPS", "10"))
    for step in range(10):
        loss = ((model(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        val = ((model(xv) - yv) ** 2).mean()
        if step < arch_steps:
            """@nas.training_update(loss=val)"""
    time.sleep(float(os.environ.get("TEST_TRIAL_SLEEP", "0")))
    test = float(((model(xt) - yt) ** 2).mean())
    """@nas.report_final_result({"default": float(val), "val": float(val), "test": test, "lr": lr})"""


main()
'''


def _project(tmp_path: Path, helpers: Any, count: int = 2, report_every: int = 2) -> Path:
    code = tmp_path / "code"
    helpers.write(code / "net.py", NET)
    common = {"trialCodeDirectory": "code", "trialCommand": "python3 net.py", "useAnnotation": True,
              "trainingService": {"platform": "local"}}
    search = {"experimentName": "search", **common, "nasMode": "darts", "darts": {"report_every": report_every},
              "maxTrialNumber": 1, "seed": 3}
    retrain = {"experimentName": "retrain", **common, "maxTrialNumber": 2, "trialConcurrency": 2, "seed": 4,
               "tuner": {"name": "GridSearch", "classArgs": {"optimize_mode": "minimize"}}}
    helpers.write_config(tmp_path, search, "search.yml")
    pipeline = {"pipeline": {"name": "tiny", "search": "search.yml", "sample": {"count": count, "seed": 1},
                             "retrain": retrain, "select": "val", "columns": ["val", "test"]}}
    return helpers.write_config(tmp_path, pipeline, "pipeline.yml")


def _check_done(home: Path, pipeline_id: str) -> list[dict[str, Any]]:
    pipeline = Pipeline.load(pipeline_id, nas_home_dir=home)
    assert pipeline.record["status"] == "DONE"
    rows = json.loads((home / pipeline_id / "results.json").read_text())
    samples = json.loads((home / pipeline_id / "samples" / "index.json").read_text())
    assert len(rows) == len(samples) == len(pipeline.record["stages"]["retrain"]) >= 1
    for row, name in zip(rows, samples, strict=True):
        exp = Experiment.load(row["experiment"], nas_home=home)
        assert exp.status == "DONE" and exp.config.nas_mode == "classic"
        sample = json.loads((home / pipeline_id / "samples" / name).read_text())
        assert exp.retrain_architecture()["architecture"] == sample
        trials = [t for t in exp.trials() if t.status == "SUCCEEDED"]
        assert sorted(t.value["lr"] for t in trials) == [0.01, 0.05]  # the grid, for each architecture
        assert row["val"] == min(t.value["val"] for t in trials)  # its best trial on validation
    assert [row["best"] for row in rows].count(True) == 1
    assert next(row for row in rows if row["best"])["val"] == min(row["val"] for row in rows)
    assert (home / pipeline_id / "results.csv").read_text().splitlines()[0] == \
        "experiment,trial,architecture,tuned,val,test,best"
    return rows


def test_a_pipeline_runs_its_stages_and_prints_the_table(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    config = _project(tmp_path, helpers)
    out = helpers.nasctl("run", str(config), "--id", "P", "--no-progress", env={"NAS_HOME": str(nas_home)},
                         timeout=300)
    assert out.returncode == 0, out.stderr
    rows = _check_done(nas_home, "P")
    assert Experiment.load("P-search", nas_home=nas_home).status == "DONE"
    best = next(row for row in rows if row["best"])
    assert f"best on val: {best['experiment']} trial {best['trial']}" in out.stdout
    assert "h1=" in out.stdout and "lr=" in out.stdout  # the architecture and the tuned rate, per row
    # The stages are ordinary experiments: listed and exported as usual; the pipeline folder is not one.
    listed = helpers.nasctl("experiment", "list", env={"NAS_HOME": str(nas_home)})
    assert "P-search" in listed.stdout and "P-retrain-0" in listed.stdout and "\nP " not in listed.stdout


def test_resume_carries_on_after_a_kill(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    config = _project(tmp_path, helpers, count=3)
    env = dict(os.environ, NAS_HOME=str(nas_home), TEST_TRIAL_SLEEP="0.3")
    process = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "run", str(config), "--id", "P",
                                "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while not (nas_home / "P-retrain-0" / "trials").is_dir():  # the search is done, a retrain has begun
        assert process.poll() is None and time.monotonic() < deadline, "the pipeline ended before the retrains"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert Pipeline.load("P", nas_home_dir=nas_home).record["status"] == "RUNNING"
    searched = Experiment.load("P-search", nas_home=nas_home).trials()

    out = helpers.nasctl("resume", "P", "--no-progress", env={"NAS_HOME": str(nas_home)}, timeout=300)
    assert out.returncode == 0, out.stderr
    _check_done(nas_home, "P")
    again = Experiment.load("P-search", nas_home=nas_home).trials()
    assert [t.trial_id for t in again] == [t.trial_id for t in searched]  # the search was not run again


def test_stop_with_the_pipeline_id_stops_it_and_resume_finishes(tmp_path: Path, nas_home: Path,
                                                                 helpers: Any) -> None:
    config = _project(tmp_path, helpers)
    env = dict(os.environ, NAS_HOME=str(nas_home), TEST_TRIAL_SLEEP="0.5")
    process = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "run", str(config), "--id", "P",
                                "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (nas_home / "P-retrain-0" / "trials").is_dir():  # a retrain stage runs
            assert process.poll() is None and time.monotonic() < deadline, "the pipeline ended before the retrains"
            time.sleep(0.05)
        out = helpers.nasctl("stop", "P", env={"NAS_HOME": str(nas_home)}, timeout=180)
        assert out.returncode == 0, out.stderr
        assert "pipeline P stopped (stage P-retrain-" in out.stderr and "nasctl resume P" in out.stderr
        assert process.wait(timeout=60) == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert Pipeline.load("P", nas_home_dir=nas_home).record["status"] == "STOPPED"
    again = helpers.nasctl("stop", "P", env={"NAS_HOME": str(nas_home)}, timeout=60)
    assert again.returncode != 0 and "pipeline P is not running (status STOPPED)" in again.stderr

    out = helpers.nasctl("resume", "P", "--no-progress", env={"NAS_HOME": str(nas_home)}, timeout=300)
    assert out.returncode == 0, out.stderr
    _check_done(nas_home, "P")


def test_pipeline_config_errors_name_the_key(tmp_path: Path, nas_home: Path, helpers: Any) -> None:
    config = _project(tmp_path, helpers)
    text = config.read_text()
    config.write_text(text.replace("count: 2", "count: 0"))
    with pytest.raises(ConfigError, match=r"pipeline\.sample\.count.*positive integer"):
        Pipeline.from_yaml(config)
    config.write_text(text.replace("select: val", "selekt: val"))
    with pytest.raises(ConfigError, match=r"pipeline\.selekt.*unknown key"):
        Pipeline.from_yaml(config)
    search = (tmp_path / "search.yml").read_text()
    (tmp_path / "search.yml").write_text(search.replace("nasMode: darts", "nasMode: oneshot").replace(
        "darts:\n  report_every: 2\n", ""))
    config.write_text(text)
    with pytest.raises(ConfigError, match="search stage must run in darts mode"):
        Pipeline.from_yaml(config)
    assert not nas_home.exists() or not any(nas_home.iterdir())  # nothing was stored


def test_a_search_that_reported_no_weights_fails_with_what_to_do(tmp_path: Path, nas_home: Path,
                                                                 helpers: Any) -> None:
    config = _project(tmp_path, helpers)
    out = helpers.nasctl("run", str(config), "--id", "P", "--no-progress",
                         env={"NAS_HOME": str(nas_home), "TEST_ARCH_STEPS": "0"},  # no architecture step: no weights
                         timeout=300)
    assert out.returncode == 2
    assert "pipeline P:" in out.stderr and "set report_every >= 1 in pipeline.search" in out.stderr
    assert "Traceback" not in out.stderr
    assert Pipeline.load("P", nas_home_dir=nas_home).record["status"] == "FAILED"
    assert Experiment.load("P-search", nas_home=nas_home).status == "DONE"  # the search itself is kept
