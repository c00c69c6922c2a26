"""The manager and its tuner: calls off the loop's thread, results acknowledged first, NNI's call order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment

# Logs every call with the thread it ran on. receive_trial_result waits (up to 20 s) for the file
# the trial writes once its final result is acknowledged: a manager that told the tuner before
# acknowledging would keep the trial waiting, the file would never come, and the log says so.
TUNER = '''
import json, os, random, threading, time


class LogTuner:
    def __init__(self, log, seed=0):
        self.log = log
        self.rng = random.Random(seed)

    def _write(self, *entry):
        with open(self.log, "a") as handle:
            handle.write(json.dumps([*entry, threading.current_thread().name]) + "\\n")

    def update_search_space(self, search_space):
        self.space = search_space

    def generate_parameters(self, parameter_id, **kw):
        self._write("generate", parameter_id)
        return {key: self.rng.choice(spec["_value"]) for key, spec in sorted(self.space.items())}

    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        flag = os.path.join(os.path.dirname(self.log), f"acked-{parameter_id}")
        deadline = time.monotonic() + 20
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._write("result", parameter_id, os.path.exists(flag))

    def trial_end(self, parameter_id, success, **kw):
        self._write("end", parameter_id)
'''


def test_tuner_calls_run_off_the_loop_after_the_ack_in_nnis_order(
        project: Path, nas_home: Path, helpers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    helpers.write(project / "logtuner" / "logtuner.py", TUNER)
    helpers.write(project / "trial.py", helpers.CLIENT + '''
reply = request("get_parameter")
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=reply["parameter_id"])
open(os.path.join(os.environ["TEST_FLAGS"], f"acked-{reply['parameter_id']}"), "w").close()
''')
    log = nas_home.parent / "flags" / "tuner.log"
    log.parent.mkdir(parents=True)
    config = helpers.base_config(project, maxTrialNumber=3, trialConcurrency=1, tuner={
        "codeDirectory": "logtuner", "className": "logtuner:LogTuner", "classArgs": {"log": str(log)}})
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    monkeypatch.setenv("TEST_FLAGS", str(log.parent))
    assert exp.run() == "DONE"
    assert [t.status for t in exp.trials()] == ["SUCCEEDED"] * 3
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert {call[-1] for call in calls} == {"nasctl-tuner"}  # never the loop's (main) thread
    # Each result reached the tuner after the trial had its acknowledgement.
    assert [call[2] for call in calls if call[0] == "result"] == [True, True, True]
    # One slot: the tuner is asked for a trial's parameters once the trial before it has ended (as NNI
    # does), and its calls come in the order the manager stored them.
    order = [(call[0], call[1]) for call in calls]
    assert order == [(kind, n) for n in range(3) for kind in ("generate", "result", "end")]
