"""Prepare-ahead: the tuner proposes a slot's next parameters while its trial runs, only where it may.

Every check is on the order of the tuner's calls (they run one at a time, in the order the manager
submits them), never on timings.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager._storage import Storage

# Logs each call as it returns. `generate_parameters` sleeps first: a slow suggestion.
TUNER = '''
import json, random, time


class LogTuner:
    def __init__(self, log, sleep=0.0, seed=0):
        self.log = log
        self.sleep = sleep
        self.rng = random.Random(seed)

    def _write(self, *entry):
        with open(self.log, "a") as handle:
            handle.write(json.dumps(entry) + "\\n")

    def update_search_space(self, search_space):
        self.space = search_space

    def generate_parameters(self, parameter_id, **kw):
        time.sleep(self.sleep)
        self._write("generate", parameter_id)
        return {key: self.rng.choice(spec["_value"]) for key, spec in sorted(self.space.items())}

    def receive_trial_result(self, parameter_id, parameters, value, **kw):
        self._write("result", parameter_id)

    def trial_end(self, parameter_id, success, **kw):
        self._write("end", parameter_id)


class AheadTuner(LogTuner):
    prepares_ahead = True
'''

# NNI's order at one slot: a trial's parameters are asked for once the trial before it has ended.
NNI_ORDER = [("generate", 0), ("result", 0), ("end", 0), ("generate", 1), ("result", 1), ("end", 1),
             ("generate", 2), ("result", 2), ("end", 2)]
# Prepared ahead: the next trial's parameters are ready before the running trial reports; three in all.
AHEAD_ORDER = [("generate", 0), ("generate", 1), ("result", 0), ("end", 0), ("generate", 2), ("result", 1),
               ("end", 1), ("result", 2), ("end", 2)]


def _calls(log: Path) -> list[tuple[str, int]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def _log_tuner(project: Path, helpers: Any, cls: str, log: Path, prepare_ahead: bool | None,
               sleep: float = 0.0) -> dict[str, Any]:
    helpers.write(project / "aheadtuner" / "aheadtuner.py", TUNER)
    tuner: dict[str, Any] = {"codeDirectory": "aheadtuner", "className": f"aheadtuner:{cls}",
                             "classArgs": {"log": str(log), "sleep": sleep}}
    if prepare_ahead is not None:
        tuner["prepareAhead"] = prepare_ahead
    return tuner


@pytest.mark.parametrize(("cls", "prepare_ahead", "expected"), [
    ("LogTuner", None, NNI_ORDER),  # a custom tuner: off unless it says otherwise
    ("AheadTuner", None, AHEAD_ORDER),  # the tuner's `prepares_ahead = True`
    ("LogTuner", True, AHEAD_ORDER),  # the config turns it on ...
    ("AheadTuner", False, NNI_ORDER),  # ... and off
])
def test_the_next_parameters_are_prepared_while_a_trial_runs_only_where_allowed(
        project: Path, nas_home: Path, helpers: Any, cls: str, prepare_ahead: bool | None,
        expected: list[tuple[str, int]]) -> None:
    log = nas_home.parent / "tuner.log"
    tuner = _log_tuner(project, helpers, cls, log, prepare_ahead, sleep=0.2)
    config = helpers.base_config(project, maxTrialNumber=3, trialConcurrency=1, tuner=tuner)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    assert exp.run() == "DONE"
    assert [t.status for t in exp.trials()] == ["SUCCEEDED"] * 3
    # Ahead, trial n+1's slow suggestion was made before trial n ended; never a fourth one.
    assert _calls(log) == expected


def test_prepared_parameters_do_not_change_a_seeded_random_search(project: Path, nas_home: Path,
                                                                  helpers: Any) -> None:
    results = {}
    for ahead in (False, True):
        config = helpers.base_config(project, maxTrialNumber=6, trialConcurrency=2,
                                     tuner={"name": "Random", "prepareAhead": ahead}, experimentName=f"ahead-{ahead}")
        exp = Experiment.from_yaml(helpers.write_config(project, config))
        assert exp.run() == "DONE"
        results[ahead] = [(t.sequence, t.parameter_id, t.parameters, t.value) for t in exp.trials()]
    assert len(results[True]) == 6 and results[True] == results[False]


STOPPING_TRIAL = '''
import signal
reply = request("get_parameter")
flag = os.path.join(os.environ["TEST_FLAGS"], "stopped")
if not os.path.exists(flag):
    # The first trial waits until the next parameters are prepared, then stops the manager (nasctl stop).
    deadline = time.monotonic() + 20
    while '["generate", 1]' not in open(os.environ["TEST_TUNER_LOG"]).read() and time.monotonic() < deadline:
        time.sleep(0.01)
    open(flag, "w").close()
    os.kill(int(os.environ["TEST_MANAGER_PID"]), signal.SIGTERM)
    time.sleep(30)
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=reply["parameter_id"])
'''


def test_a_stop_keeps_prepared_parameters_out_of_the_trials_and_the_resume_runs_them_once(
        project: Path, nas_home: Path, helpers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    log = nas_home.parent / "tuner.log"
    helpers.write(project / "trial.py", helpers.CLIENT + STOPPING_TRIAL)
    config = helpers.base_config(project, maxTrialNumber=3, trialConcurrency=1,
                                 tuner=_log_tuner(project, helpers, "AheadTuner", log, None))
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    log.touch()
    monkeypatch.setenv("TEST_FLAGS", str(nas_home.parent))
    monkeypatch.setenv("TEST_TUNER_LOG", str(log))
    monkeypatch.setenv("TEST_MANAGER_PID", str(os.getpid()))
    assert exp.run() == "STOPPED"
    assert [(t.sequence, t.parameter_id, t.status) for t in exp.trials()] == [(0, 0, "WAITING")]
    storage = Storage(exp.db_path, readonly=True)
    try:
        prepared = storage.unassigned_parameters()
    finally:
        storage.close()
    assert [parameter_id for parameter_id, _ in prepared] == [1]

    log.write_text("")
    assert Experiment.load(exp.id).run() == "DONE"
    trials = exp.trials()
    assert [(t.sequence, t.parameter_id, t.status) for t in trials] == [(n, n, "SUCCEEDED") for n in range(3)]
    assert trials[1].parameters == prepared[0][1]  # the set prepared before the stop, run once
    # The resumed tuner replays the two stored suggestions and is asked for one more, not for 1 again.
    assert [call for call in _calls(log) if call[0] == "generate"] == [("generate", 0), ("generate", 1),
                                                                      ("generate", 2)]
    with contextlib.closing(sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)) as db:
        events = db.execute("SELECT kind, COUNT(*), COUNT(DISTINCT parameter_id) FROM tuner_events GROUP BY kind")
        assert {kind: (n, distinct) for kind, n, distinct in events} == {
            "generate": (3, 3), "result": (3, 3), "end": (3, 3)}


def test_prepare_ahead_in_the_config_is_a_boolean() -> None:
    from nasctl.runtime.errors import ConfigError
    from nasctl.runtime.manager import ExperimentConfig

    base = {"trialCommand": "python3 t.py", "searchSpace": {}}
    config = ExperimentConfig.from_dict({**base, "tuner": {"name": "TPE", "prepareAhead": False}})
    assert config.tuner is not None and config.tuner.prepare_ahead is False
    assert ExperimentConfig.from_dict({**base, "tuner": {"name": "TPE"}}).tuner.prepare_ahead is None
    with pytest.raises(ConfigError, match=r"key 'tuner\.prepareAhead': 'yes' is not of type 'boolean'"):
        ExperimentConfig.from_dict({**base, "tuner": {"name": "TPE", "prepareAhead": "yes"}})


@pytest.mark.parametrize(("name", "ahead"), [("Random", True), ("GridSearch", True), ("Evolution", True),
                                             ("TPE", True), ("PPO", True), ("Reinforce", False), ("ENAS", False)])
def test_which_built_in_tuners_prepare_ahead(name: str, ahead: bool) -> None:
    from nasctl import tuners

    assert tuners.create(name).prepares_ahead is ahead
