"""Following and steering a background experiment: follow, trial ls/show while running, update, delete."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nasctl.runtime.manager import Experiment, derive_trial_seed

# Reports two intermediate results, then waits until the file $TEST_GATE exists (a minute at most, so a
# failed test leaves nothing running for long), then reports its value.
GATED = '''
reply = request("get_parameter")
params, pid = reply["parameters"], reply["parameter_id"]
value = params["x"] * 10 + params["y"]
for step in range(2):
    request("metric", kind="intermediate", value=value * (step + 1) / 4, parameter_id=pid, sequence=step)
give_up = time.time() + 60
while not os.path.exists(os.environ["TEST_GATE"]) and time.time() < give_up:
    time.sleep(0.05)
request("metric", kind="final", value=value, parameter_id=pid)
'''


def _wait(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start(project: Path, nas_home: Path, helpers: Any, exp_id: str, **config: Any) -> tuple[Experiment, dict]:
    helpers.write(project / "trial.py", helpers.CLIENT + GATED)
    path = helpers.write_config(project, helpers.base_config(project, **config))
    env = {"NAS_HOME": str(nas_home), "TEST_GATE": str(project / "gate")}
    created = helpers.nasctl("create", "--config", str(path), "--id", exp_id, env=env)
    assert created.returncode == 0, created.stderr
    exp = Experiment.load(exp_id, nas_home=nas_home)
    _wait(lambda: sum(t.status == "RUNNING" and len(t.intermediate) == 2 for t in exp.trials()) == 2,
          "two running trials with two intermediate results each")
    return exp, env


def test_follow_ls_show_update_and_delete_a_running_experiment(project: Path, nas_home: Path, helpers: Any) -> None:
    exp, env = _start(project, nas_home, helpers, "live", maxTrialNumber=2, trialConcurrency=2)

    ls = helpers.nasctl("trial", "ls", "live", env=env)
    assert ls.returncode == 0, ls.stderr
    header, *rows = ls.stdout.splitlines()
    assert header.split()[:6] == ["TRIAL", "#", "STATUS", "VALUE", "LATEST", "EXIT"]
    for trial in exp.trials():
        (row,) = [r for r in rows if r.startswith(trial.trial_id)]
        latest = trial.intermediate[-1]
        assert re.search(rf"RUNNING\s+-\s+{latest:.6g} \(#2\)\s+-\s+\d+\.\ds\s", row), row

    first = exp.trials()[0]
    show = helpers.nasctl("trial", "show", "live", first.trial_id, env=env)
    assert show.returncode == 0, show.stderr
    seed = derive_trial_seed(exp.info()["seed"], first.sequence)
    assert f"trial {first.trial_id} of experiment live (#0): RUNNING" in show.stdout
    assert re.search(rf"seed:\s+{seed}\n", show.stdout) and re.search(r"GPUs:\s+none\n", show.stdout)
    assert f'"x": {first.parameters["x"]}' in show.stdout and "2 intermediate" in show.stdout
    assert str(nas_home / "live" / "trials" / first.trial_id / "stderr") in show.stdout
    shown = json.loads(helpers.nasctl("trial", "show", "live", first.trial_id, "--json", env=env).stdout)
    assert shown["parameters"] == first.parameters and shown["seed"] == seed and shown["status"] == "RUNNING"

    follow = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "experiment", "follow", "live"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, **env))
    try:
        updated = helpers.nasctl("experiment", "update", "live", "--max-trials", "3", env=env)
        assert updated.returncode == 0 and "takes it up within a second" in updated.stderr
        refused = helpers.nasctl("experiment", "delete", "live", "--yes", env=env)
        assert refused.returncode == 2 and "experiment live is running; stop it first" in refused.stderr
        time.sleep(1.5)  # a heartbeat or more: the manager has read the new budget
        (project / "gate").touch()
        _, err = follow.communicate(timeout=120)
    finally:
        follow.kill()
    assert follow.returncode == 0, err
    lines = err.splitlines()
    assert lines[0] == "following experiment live (Ctrl-C stops following; the experiment goes on)"
    assert any(re.search(r"0/3 done, 2 running, 0 failed, best -", line) for line in lines), err  # seen live
    assert re.search(r"\[#+\] 3/3 done, 0 running, 0 failed, best [0-9.]+", err), err
    assert "experiment live done: maxTrialNumber reached" in err and "best trial" in err
    assert [t.status for t in exp.trials()] == ["SUCCEEDED"] * 3  # the update was taken up by the manager

    unconfirmed = helpers.nasctl("experiment", "delete", "live", env=env)
    assert unconfirmed.returncode == 2 and "confirm with --yes" in unconfirmed.stderr
    assert (nas_home / "live").is_dir()
    deleted = helpers.nasctl("experiment", "delete", "live", "--yes", env=env)
    assert deleted.returncode == 0 and "experiment live deleted" in deleted.stderr
    assert not (nas_home / "live").exists()
    assert helpers.nasctl("experiment", "follow", "live", env=env).returncode == 2


def test_a_shorter_duration_ends_a_running_experiment(project: Path, nas_home: Path, helpers: Any) -> None:
    exp, env = _start(project, nas_home, helpers, "short", maxTrialNumber=5, trialConcurrency=2)
    updated = helpers.nasctl("experiment", "update", "short", "--max-duration", "0.5s", env=env)
    assert updated.returncode == 0, updated.stderr
    _wait(lambda: exp.status == "DONE", "the experiment to end")
    assert exp.info()["message"] == "maxExperimentDuration reached"
    assert [t.status for t in exp.trials()] == ["USER_CANCELED"] * 2


def test_update_a_stopped_experiment_then_resume(project: Path, nas_home: Path, helpers: Any) -> None:
    path = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2))
    env = {"NAS_HOME": str(nas_home)}
    assert helpers.nasctl("run", str(path), "--id", "grow", "--no-progress", env=env).returncode == 0
    updated = helpers.nasctl("experiment", "update", "grow", "--max-trials", "4", "--max-duration", "2h", env=env)
    assert updated.returncode == 0, updated.stderr
    assert "maxTrialNumber 4, maxExperimentDuration 7200s; carry on with: nasctl resume grow" in updated.stderr
    config = Experiment.load("grow", nas_home=nas_home).config
    assert (config.max_trial_number, config.max_experiment_duration) == (4, 7200.0)
    followed = helpers.nasctl("experiment", "follow", "grow", env=env)  # a finished one: its state, at once
    assert followed.returncode == 0 and "2/4 done" in followed.stderr
    assert helpers.nasctl("resume", "grow", "--no-progress", env=env).returncode == 0
    assert len(Experiment.load("grow", nas_home=nas_home).trials()) == 4


def test_update_and_show_name_what_is_wrong(project: Path, nas_home: Path, helpers: Any) -> None:
    path = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=1))
    env = {"NAS_HOME": str(nas_home)}
    assert helpers.nasctl("run", str(path), "--id", "bad", "--no-progress", env=env).returncode == 0
    for args, message in ((["update", "bad"], "nothing to update: give --max-trials N and/or --max-duration D"),
                          (["update", "bad", "--max-trials", "0"], "--max-trials: a number of trials is a positive"),
                          (["update", "bad", "--max-duration", "soon"], "key '--max-duration': expected a duration"),
                          (["update", "nope", "--max-trials", "3"], "no experiment 'nope'"),
                          (["delete", "nope", "--yes"], "no experiment 'nope'")):
        out = helpers.nasctl("experiment", *args, env=env)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = helpers.nasctl("trial", "show", "bad", "zzz", env=env)
    assert out.returncode == 2 and "experiment bad: no trial 'zzz'" in out.stderr
    assert Experiment.load("bad", nas_home=nas_home).config.max_trial_number == 1  # nothing changed
