"""Early stopping in a running experiment: the `assessor` config, EARLY_STOPPED trials end to end,
the assessor off the manager's critical path, its failures, and its state on resume."""

from __future__ import annotations

import json
import re
import selectors
import time
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager._assessor import AssessorRunner
from nasctl.runtime.manager._config import ExperimentConfig
from nasctl.runtime.manager._storage import TrialRecord
from nasctl.tuners.assessors import MedianstopAssessor

# Proposes x from `values` in order and writes every call it gets to `record` (JSON lines).
SEQUENCE_TUNER = '''
import json

from nasctl.tuners import NoMoreTrialError


class SequenceTuner:
    def __init__(self, values, record, optimize_mode="maximize"):
        self.values = list(values)
        self.record = record

    def _log(self, *entry):
        with open(self.record, "a") as handle:
            handle.write(json.dumps(entry) + "\\n")

    def update_search_space(self, search_space):
        pass

    def generate_parameters(self, parameter_id, **kw):
        if not self.values:
            raise NoMoreTrialError("done")
        return {"x": self.values.pop(0)}

    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        self._log("result", parameter_id, parameters["x"], value)

    def trial_end(self, parameter_id, success, **kw):
        self._log("end", parameter_id, success)
'''

# Reports x * (step + 1) / 10 for 8 steps, 0.2 s apart, then x * 0.8 as its final result.
CURVE_TRIAL = '''
reply = request("get_parameter")
x, pid = reply["parameters"]["x"], reply["parameter_id"]
for step in range(8):
    request("metric", kind="intermediate", value=x * (step + 1) / 10, parameter_id=pid, sequence=step)
    time.sleep(0.2)
request("metric", kind="final", value=x * 0.8, parameter_id=pid)
'''

SPACE = {"x": {"_type": "choice", "_value": [1, 2, 3, 4]}}


def _config(project: Path, helpers: Any, values: list[int], assessor: dict[str, Any] | None,
            **overrides: Any) -> dict[str, Any]:
    helpers.write(project / "tuner" / "sequence.py", SEQUENCE_TUNER)
    helpers.write(project / "trial.py", helpers.CLIENT + CURVE_TRIAL)
    config = helpers.base_config(project, trialConcurrency=1, maxTrialNumber=len(values), searchSpace=SPACE, tuner={
        "codeDirectory": "tuner", "className": "sequence:SequenceTuner",
        "classArgs": {"values": values, "record": str(project / "tuner-calls.jsonl")}}, **overrides)
    del config["searchSpaceFile"]
    if assessor is not None:
        config["assessor"] = assessor
    return config


def _calls(project: Path) -> list[list[Any]]:
    return [json.loads(line) for line in (project / "tuner-calls.jsonl").read_text().splitlines()]


# -- config ----------------------------------------------------------------------------------------


def test_assessor_config_v2_and_nni_v1_keys(tmp_path: Path) -> None:
    base = {"trialCommand": "python3 t.py", "searchSpace": {}, "tuner": {"name": "Random"}}
    v2 = ExperimentConfig.from_dict({**base, "assessor": {"name": "Medianstop", "classArgs": {"start_step": 5}}},
                                    base_dir=tmp_path)
    assert (v2.assessor.name, v2.assessor.class_args, v2.assessor.code_directory) == ("Medianstop", {"start_step": 5},
                                                                                    None)
    v1 = ExperimentConfig.from_dict({**base, "assessor": {"builtinAssessorName": "Curvefitting",
                                                          "classArgs": {"epoch_num": 10}}}, base_dir=tmp_path)
    assert (v1.assessor.name, v1.assessor.class_args) == ("Curvefitting", {"epoch_num": 10})
    (tmp_path / "mine").mkdir()
    custom = ExperimentConfig.from_dict({**base, "assessor": {"codeDir": "mine", "classFileName": "my_assessor.py",
                                                              "className": "MyAssessor"}}, base_dir=tmp_path)
    assert custom.assessor.name == "my_assessor:MyAssessor"
    assert custom.assessor.code_directory == tmp_path / "mine"
    v2_custom = ExperimentConfig.from_dict({**base, "assessor": {"codeDirectory": "mine",
                                                                 "className": "pkg.mod.Stopper"}}, base_dir=tmp_path)
    assert v2_custom.assessor.name == "pkg.mod:Stopper"
    assert ExperimentConfig.from_dict(base, base_dir=tmp_path).assessor is None


@pytest.mark.parametrize(("section", "message"), [
    ({"name": "Medianstop", "className": "a:B"}, r"key 'assessor.className': give a built-in assessor 'name'"),
    ({"classArgs": {}}, r"key 'assessor.name': give a built-in assessor 'name'"),
    ({"name": "Medianstop", "startStep": 3}, r"key 'assessor.startStep': unknown key"),
    ({"className": "a:B", "codeDirectory": "nowhere"}, r"key 'assessor.codeDirectory': assessor code directory .* "
                                                       "does not exist"),
    ({"name": "Medianstop", "codeDirectory": "."}, r"codeDirectory is for a custom assessor"),
])
def test_malformed_assessor_sections_are_refused(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    config = {"trialCommand": "python3 t.py", "searchSpace": {}, "tuner": {"name": "Random"}, "assessor": section}
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_dict(config, base_dir=tmp_path)


@pytest.mark.parametrize(("assessor", "message"), [
    ({"name": "Medianstp"}, r"key 'assessor': unknown assessor 'Medianstp'; built-in assessors: Medianstop, "
                            "Curvefitting, SuccessiveHalving, Hyperband"),
    ({"name": "Medianstop", "classArgs": {"start_stp": 2}},
     r"key 'assessor': assessor Medianstop takes no class argument 'start_stp'; accepted: optimize_mode, start_step"),
    ({"name": "Curvefitting", "classArgs": {"threshold": 1.5}},
     r"key 'assessor': assessor Curvefitting: threshold must be a number in \(0, 1\], got 1.5"),
])
def test_bad_assessor_exits_2_with_one_line_before_the_experiment_exists(
        project: Path, nas_home: Path, helpers: Any, assessor: dict[str, Any], message: str) -> None:
    config = helpers.write_config(project, _config(project, helpers, [1], assessor))
    result = helpers.nasctl("run", str(config), "--id", "bad", env={"NAS_HOME": str(nas_home)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {config}:")  # the file and the line of the assessor key
    assert re.search(message, result.stderr), result.stderr
    assert not (nas_home / "bad").exists()


# -- end to end ------------------------------------------------------------------------------------


def test_medianstop_stops_poor_trials_end_to_end(project: Path, nas_home: Path, helpers: Any) -> None:
    # x = 3 completes first (running averages 0.3, 0.45, ...); x = 1 and x = 2 are below that median at
    # step 2 and are stopped; x = 4 is above it and completes.
    config = helpers.write_config(project, _config(project, helpers, [3, 1, 2, 4],
                                                   {"name": "Medianstop", "classArgs": {"start_step": 2}}))
    env = {"NAS_HOME": str(nas_home)}
    run = helpers.nasctl("run", str(config), "--id", "es", env=env)
    assert run.returncode == 0, run.stderr
    assert "4/4 done" in run.stderr
    exp = Experiment.load("es", nas_home=nas_home)
    trials = exp.trials()
    assert [t.parameters["x"] for t in trials] == [3, 1, 2, 4]
    assert [t.status for t in trials] == ["SUCCEEDED", "EARLY_STOPPED", "EARLY_STOPPED", "SUCCEEDED"]
    for t in trials[1:3]:
        # Killed at its verdict (SIGTERM), well before its 8 steps, recorded with its last intermediate result.
        assert 2 <= len(t.intermediate) < 8 and t.exit_code == -15
        assert t.value == t.intermediate[-1]
        assert t.message == "stopped early by assessor Medianstop after 2 intermediate results"
    assert exp.best().trial_id == trials[3].trial_id
    assert exp.info()["counts"]["EARLY_STOPPED"] == 2

    # The tuner hears of a stopped trial as NNI's does: its last intermediate result, then a trial_end.
    calls = _calls(project)
    for parameter_id in (1, 2):
        mine = [call for call in calls if call[1] == parameter_id]
        assert mine == [["result", parameter_id, trials[parameter_id].parameters["x"], trials[parameter_id].value],
                        ["end", parameter_id, False]]
    assert [call for call in calls if call[1] == 0] == [["result", 0, 3, pytest.approx(2.4)], ["end", 0, True]]

    ls = helpers.nasctl("trial", "ls", "es", env=env)
    assert ls.returncode == 0 and ls.stdout.count("EARLY_STOPPED") == 2
    export = json.loads(helpers.nasctl("experiment", "export", "es", "--format", "json", env=env).stdout)
    assert [r["status"] for r in export] == ["SUCCEEDED", "EARLY_STOPPED", "EARLY_STOPPED", "SUCCEEDED"]
    assert export[1]["value"] == trials[1].intermediate[-1]
    listing = helpers.nasctl("experiment", "list", env=env)
    assert "4/4" in listing.stdout

    # Finished, not failed: a resume runs nothing again, and the fresh tuner is replayed the same calls.
    assert exp.run() == "DONE"
    assert [(t.trial_id, t.status) for t in exp.trials()] == [(t.trial_id, t.status) for t in trials]
    assert _calls(project) == calls + calls


def test_assessor_runs_off_the_critical_path(project: Path, nas_home: Path, helpers: Any) -> None:
    # The assessor waits for a file that the trial writes only after its metric has been acknowledged:
    # were the assessor called before the acknowledgement, neither could go on.
    helpers.write(project / "blocking" / "blocking.py", '''
import os
import time

from nasctl.tuners.assessors import Assessor, AssessResult


class Blocking(Assessor):
    def __init__(self, flag):
        self.flag = flag

    def assess_trial(self, trial_job_id, trial_history):
        deadline = time.monotonic() + 20
        while not os.path.exists(self.flag):
            if time.monotonic() > deadline:
                raise RuntimeError("the trial never got its acknowledgement")
            time.sleep(0.01)
        return AssessResult.Bad
''')
    flag = project / "acknowledged"
    config = _config(project, helpers, [1], {"codeDirectory": "blocking", "className": "blocking:Blocking",
                                             "classArgs": {"flag": str(flag)}})
    helpers.write(project / "trial.py", helpers.CLIENT + f'''
reply = request("get_parameter")
request("metric", kind="intermediate", value=0.5, parameter_id=reply["parameter_id"], sequence=0)
open({str(flag)!r}, "w").close()
time.sleep(30)
''')
    exp = Experiment(config, base_dir=project)
    assert exp.run(grace_period=1.0) == "DONE"
    [trial] = exp.trials()
    assert trial.status == "EARLY_STOPPED" and trial.value == 0.5
    assert trial.end_time - trial.start_time < 15


def test_a_failing_assessor_fails_the_experiment_with_its_error(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "broken" / "broken.py", '''
from nasctl.tuners.assessors import Assessor


class Broken(Assessor):
    def assess_trial(self, trial_job_id, trial_history):
        raise ZeroDivisionError("no history to divide")
''')
    config = _config(project, helpers, [1, 2], {"codeDirectory": "broken", "className": "broken:Broken"})
    exp = Experiment(config, base_dir=project)
    assert exp.run(grace_period=1.0) == "FAILED"
    message = exp.info()["message"]
    assert message.startswith("assessor broken:Broken: assess_trial failed on trial ")
    assert "ZeroDivisionError: no history to divide" in message
    # The interrupted trial waits to run again once the assessor is fixed.
    assert [t.status for t in exp.trials()] == ["WAITING"]


# -- resume ----------------------------------------------------------------------------------------


def _record(trial_id: str, sequence: int, status: str, history: list[Any], end: float) -> TrialRecord:
    return TrialRecord(trial_id=trial_id, sequence=sequence, status=status, parameter_id=sequence, parameters={},
                       intermediate=history, end_time=end)


def test_restore_replays_ended_trials_in_order_and_the_rule_carries_on() -> None:
    calls: list[tuple[Any, ...]] = []

    class Recording(MedianstopAssessor):
        def restore_trial(self, trial_job_id, trial_history, success):
            calls.append((trial_job_id, trial_history, success))
            super().restore_trial(trial_job_id, trial_history, success)

    selector = selectors.DefaultSelector()
    stopped: list[tuple[str, int]] = []
    errors: list[str] = []
    runner = AssessorRunner(Recording(start_step=1), "Medianstop", selector,
                            lambda trial_id, step: stopped.append((trial_id, step)), errors.append)
    try:
        runner.restore([
            _record("late", 2, "SUCCEEDED", [0.6, 0.8], end=30.0),
            _record("early", 0, "EARLY_STOPPED", [0.1, {"default": 0.2, "loss": 3}], end=10.0),
            _record("waiting", 3, "WAITING", [], end=0.0),
            _record("noresult", 1, "FAILED", [], end=20.0),
        ])
        runner.report("new", 0.5)   # below the restored trial's running average 0.6: Bad
        runner.report("good", 0.7)
        runner.trial_end("good", True)  # waits behind the two assessments: then both verdicts are in
        deadline = time.monotonic() + 10
        while not stopped and time.monotonic() < deadline:
            for key, mask in selector.select(0.1):
                key.data(mask)
    finally:
        runner.close()
        selector.close()
    assert calls == [("early", [0.1, 0.2], False), ("late", [0.6, 0.8], True)]
    assert stopped == [("new", 1)] and errors == []


def _verdicts(assessor: Any, reports: list[tuple[str, Any]]) -> tuple[list[tuple[str, int]], list[str]]:
    """What a runner over `assessor` delivers for `reports`, once every queued call has run."""
    selector = selectors.DefaultSelector()
    stopped: list[tuple[str, int]] = []
    errors: list[str] = []
    runner = AssessorRunner(assessor, "Custom", selector, lambda t, step: stopped.append((t, step)), errors.append)
    try:
        for trial_id, value in reports:
            runner.report(trial_id, value)
        runner._executor.submit(lambda: None).result(timeout=10)  # the queue is in order: all calls are done
        for key, mask in selector.select(1.0):
            key.data(mask)
    finally:
        runner.close()
        selector.close()
    return stopped, errors


def test_verdicts_from_ported_nni_assessors_and_wrong_returns() -> None:
    import enum

    class NniResult(enum.Enum):  # what an NNI assessor ported without changing its AssessResult returns
        Good = True
        Bad = False

    class Ported:
        def assess_trial(self, trial_job_id, trial_history):
            return NniResult.Bad if trial_history[-1] < 0.5 else NniResult.Good

    class Confused:
        def assess_trial(self, trial_job_id, trial_history):
            return "stop"

    # The darts backend's reports of its architecture weights are not points of the learning curve.
    reports = [("a", 0.9), ("b", {"default": 0.1}), ("c", {"default": 0.1, "arch_weights": {}, "step": 5})]
    assert _verdicts(Ported(), reports) == ([("b", 1)], [])
    stopped, errors = _verdicts(Confused(), [("a", 0.9)])
    assert stopped == [] and errors == ["assessor Custom: assess_trial returned 'stop' for trial a; expected "
                                        "AssessResult.Good or AssessResult.Bad"]


def test_storage_records_an_early_stop_in_one_go(tmp_path: Path) -> None:
    from nasctl.runtime.manager._storage import Storage

    storage = Storage(tmp_path / "experiment.db", create=True)
    try:
        storage.add_trial("t0", 0, 0, {"x": 1})
        storage.set_running("t0", None)
        for sequence, value in enumerate([0.3, {"default": 0.5}, {"default": 9.0, "arch_weights": {"a": [1.0]}}]):
            storage.add_metric("t0", 0, "intermediate", sequence, value)
        told = storage.early_stop_trial("t0", exit_code=-15, stderr_tail=None, message="stopped early")
        assert told == (0, {"x": 1}, {"default": 0.5})   # the last point of the curve, not the darts report
        assert [(kind, pid, payload) for _, kind, pid, payload in storage.events_after(0)] == [
            ("generate", 0, {"x": 1}), ("result", 0, {"parameters": {"x": 1}, "value": {"default": 0.5}}),
            ("end", 0, False)]
        [record] = storage.trials()
        assert (record.status, record.value, record.exit_code, record.message) == (
            "EARLY_STOPPED", {"default": 0.5}, -15, "stopped early")
        assert storage.counts()["EARLY_STOPPED"] == 1

        # A trial with no point on its curve: nothing for the tuner, only its end.
        storage.add_trial("t1", 1, 1, {"x": 2})
        assert storage.early_stop_trial("t1", exit_code=-15, stderr_tail=None) is None
        assert [kind for _, kind, pid, _ in storage.events_after(0) if pid == 1] == ["generate", "end"]
        assert storage.trials()[1].value is None
    finally:
        storage.close()
