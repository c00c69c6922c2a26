"""`nasctl` end to end: run, export, list, show, trial ls, create/stop/resume, bad configs."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment


def test_run_then_export_list_show_and_trial_ls(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.TRIAL + """
if params["x"] == 2:
    sys.stderr.write("RuntimeError: x = 2 diverged\\n")
    sys.exit(4)
""")
    config = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=6))
    env = {"NAS_HOME": str(nas_home)}
    run = helpers.nasctl("run", str(config), "--id", "e2e", env=env)
    assert run.returncode == 0, run.stderr
    assert "6/6 done" in run.stderr and "best trial" in run.stderr
    assert "experiment e2e done: maxTrialNumber reached" in run.stderr

    export = helpers.nasctl("experiment", "export", "e2e", "--format", "json", env=env)
    assert export.returncode == 0, export.stderr
    records = json.loads(export.stdout)
    assert len(records) == 6
    exp = Experiment.load("e2e", nas_home=nas_home)
    for record, trial in zip(records, exp.trials(), strict=True):
        assert {"trial_id", "parameter_id", "parameters", "value", "status", "intermediate"} <= set(record)
        assert record["trial_id"] == trial.trial_id and record["value"] == trial.value
        if record["parameters"]["x"] == 2:
            assert record["status"] == "FAILED" and record["exit_code"] == 4
            # It crashed after reporting: the value is kept, the trial is still FAILED.
            assert "x = 2 diverged" in record["stderr_tail"] and record["value"] is not None
        else:
            assert record["status"] == "SUCCEEDED" and len(record["intermediate"]) == 2
            assert record["value"] == pytest.approx(record["parameters"]["x"] * 10 + record["parameters"]["y"], abs=0.07)

    out = nas_home / "export.csv"
    assert helpers.nasctl("experiment", "export", "e2e", "--format", "csv", "-o", str(out), env=env).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["trial_id"] for row in rows] == [r["trial_id"] for r in records]
    assert [row["x"] for row in rows] == [str(r["parameters"]["x"]) for r in records]

    ls = helpers.nasctl("trial", "ls", "e2e", env=env)
    assert ls.returncode == 0 and ls.stdout.splitlines()[0].split()[:4] == ["TRIAL", "#", "STATUS", "VALUE"]
    assert len(ls.stdout.splitlines()) == 7
    assert sum(r["status"] == "FAILED" for r in records) == 1  # the seeded tuner proposes x = 2 once
    assert "exit code 4: RuntimeError: x = 2 diverged" in ls.stdout

    listing = helpers.nasctl("experiment", "list", env=env)
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[1].split()[:4] == ["e2e", "test", "DONE", "6/6"]
    show = json.loads(helpers.nasctl("experiment", "show", "e2e", env=env).stdout)
    assert show["status"] == "DONE" and show["trials"]["SUCCEEDED"] + show["trials"]["FAILED"] == 6
    assert show["best"]["value"] == max(r["value"] for r in records if r["status"] == "SUCCEEDED")


def test_export_list_show_ls_write_nothing(project: Path, nas_home: Path, helpers: Any) -> None:
    config = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=1))
    env = {"NAS_HOME": str(nas_home)}
    assert helpers.nasctl("run", str(config), "--id", "ro", "--no-progress", env=env).returncode == 0
    folder = nas_home / "ro"

    def snapshot() -> dict[str, tuple[int, bytes]]:
        # Not the -shm file: SQLite's WAL index, where every reader, read-only ones too, marks its read.
        return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
                for p in sorted(folder.rglob("*"))
                if p.is_file() and not p.is_symlink() and not p.name.endswith("-shm")}

    before = snapshot()
    for command in (["experiment", "export", "ro"], ["experiment", "export", "ro", "--format", "csv"],
                    ["experiment", "list"], ["experiment", "show", "ro"], ["trial", "ls", "ro"]):
        result = helpers.nasctl(*command, env=env)
        assert result.returncode == 0, result.stderr
    assert snapshot() == before


@pytest.mark.parametrize(("change", "pattern"), [
    ({"trialConcurency": 2}, r"config\.yml:\d+, key 'trialConcurency': unknown key"),
    ({"maxTrialNumber": "many"}, r"config\.yml:\d+, key 'maxTrialNumber': 'many' is not of type 'integer'"),
    ({"trialCommand": None}, r"key 'trialCommand': missing required key"),
    ({"trialConcurrency": -1}, r"config\.yml:\d+, key 'trialConcurrency': -1 is less than the minimum of 1"),
])
def test_bad_config_is_one_line_naming_the_key_and_exit_2(project: Path, nas_home: Path, helpers: Any,
                                                         change: dict[str, Any], pattern: str) -> None:
    config = helpers.base_config(project)
    for key, value in change.items():
        if value is None:
            del config[key]
        else:
            config[key] = value
    path = helpers.write_config(project, config)
    for command in (["run", str(path)], ["create", "--config", str(path)]):
        result = helpers.nasctl(*command, env={"NAS_HOME": str(nas_home)})
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert re.search(pattern, lines[0]), lines[0]
    assert not nas_home.exists() or not any(nas_home.iterdir())


def test_unknown_experiment_is_a_clear_error(nas_home: Path, helpers: Any) -> None:
    for command in (["resume", "nope"], ["stop", "nope"], ["experiment", "show", "nope"], ["trial", "ls", "nope"]):
        result = helpers.nasctl(*command, env={"NAS_HOME": str(nas_home)})
        assert result.returncode == 2
        assert "no experiment 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_create_stop_resume(project: Path, nas_home: Path, helpers: Any) -> None:
    config = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=4))
    env = {"NAS_HOME": str(nas_home), "TEST_TRIAL_SLEEP": "30"}
    created = helpers.nasctl("create", "--config", str(config), "--id", "bg", env=env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "bg"
    exp = Experiment.load("bg", nas_home=nas_home)
    deadline = time.monotonic() + 30
    while sum(t.status == "RUNNING" for t in exp.trials()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert exp.status == "RUNNING"
    again = helpers.nasctl("resume", "bg", env=env)
    assert again.returncode == 2 and "experiment bg is already running" in again.stderr
    stopped = helpers.nasctl("stop", "bg", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert exp.status == "STOPPED"
    assert helpers.nasctl("stop", "bg", env=env).returncode == 2
    resumed = helpers.nasctl("resume", "bg", "--no-progress", env={"NAS_HOME": str(nas_home), "TEST_TRIAL_SLEEP": "0"})
    assert resumed.returncode == 0, resumed.stderr
    assert [t.status for t in exp.trials()] == ["SUCCEEDED"] * 4
