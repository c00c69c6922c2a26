"""Outcomes that tell the truth: exit status, the failure summary, stopping a run whose first trials fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasctl.runtime.manager._experiment import Experiment
from nasctl.runtime.manager._outcome import error_signature


def _experiment(project: Path, helpers: Any, **overrides: Any) -> Experiment:
    return Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, **overrides)))


def test_error_signature_ignores_the_trial_folder_id_addresses_and_numbers() -> None:
    first = error_signature("can't open file '/h/e/trials/Ab3dE/t.py': [Errno 2] at 0x7f00", "/h/e/trials/Ab3dE",
                            "Ab3dE")
    second = error_signature("can't open file '/h/e/trials/Zz9yX/t.py': [Errno 2] at 0x7fa1", "/h/e/trials/Zz9yX",
                             "Zz9yX")
    assert first == second == "can't open file '<trial>/t.py': [Errno N] at <address>"
    assert error_signature("ValueError: bad", None, None) != error_signature("KeyError: bad", None, None)


def test_run_exits_nonzero_when_no_trial_succeeded(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", "raise ZeroDivisionError('division by zero')\n")
    config = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2))
    result = helpers.nasctl("run", str(config), "--no-progress")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "no trial succeeded: 2 of 2 trials failed" in last
    assert "most common error: ZeroDivisionError: division by zero (2 of 2)" in last


def test_run_summary_counts_failures_when_some_succeed(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.TRIAL.replace(
        'value = params["x"]', 'if params["x"] % 2 == 0:\n    raise KeyError("even")\nvalue = params["x"]'))
    config = helpers.write_config(project, helpers.base_config(project, maxTrialNumber=8))
    result = helpers.nasctl("run", str(config), "--no-progress")
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert " done: maxTrialNumber reached; " in last
    assert "trials failed, most common error: KeyError: 'even'" in last


def test_a_missing_script_stops_the_run_although_each_message_names_its_own_folder(
        project: Path, nas_home: Path, helpers: Any) -> None:
    exp = _experiment(project, helpers, trialCommand="python3 missing.py", maxTrialNumber=30, trialConcurrency=1)
    assert exp.run() == "FAILED"
    assert len(exp.trials()) == 3
    assert "the first 3 trials all failed with exit code 2" in exp.info()["message"]


def test_first_trials_failing_in_different_ways_stop_the_run(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", "import os, sys\n"
                  "sys.exit('error ' + 'abcdefghij'[int(os.environ['NAS_TRIAL_SEQUENCE_ID'])])\n")
    exp = _experiment(project, helpers, maxTrialNumber=30, trialConcurrency=1)
    assert exp.run() == "FAILED"
    assert len(exp.trials()) == 6
    assert "the first 6 trials all failed and none succeeded" in exp.info()["message"]
    assert "error f" in exp.info()["message"]
