"""Resume: a manager SIGKILLed at random moments loses nothing and counts nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nasctl.runtime.manager import Experiment
from nasctl.runtime.manager._manager import manager_pid

_MANAGER = "import sys; from runtime.manager import Experiment; print(Experiment.load(sys.argv[1]).run())"


def _start_manager(exp_id: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _MANAGER, exp_id], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finished(exp: Experiment) -> dict[str, dict[str, Any]]:
    return {t.trial_id: t.to_dict() for t in exp.trials() if t.status in ("SUCCEEDED", "FAILED")}


def _trial_processes(exp_id: str) -> list[int]:
    mark = f"NAS_EXPERIMENT_ID={exp_id}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if mark in Path(entry.path, "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sigkill_at_random_moments_then_resume(project: Path, nas_home: Path, helpers: Any) -> None:
    total = 10
    config = helpers.base_config(project, maxTrialNumber=total, trialConcurrency=2)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    exp.create()
    env = dict(os.environ, NAS_HOME=str(nas_home), TEST_TRIAL_SLEEP="0.25")
    rng = random.Random(1234)
    kept: dict[str, dict[str, Any]] = {}
    for _ in range(4):
        manager = _start_manager(exp.id, env)
        deadline = time.monotonic() + 60
        while manager_pid(exp.dir) != manager.pid and manager.poll() is None:
            assert time.monotonic() < deadline, "the manager did not start"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.0))
        manager.send_signal(signal.SIGKILL)
        manager.communicate()
        now = _finished(exp)
        for trial_id, record in kept.items():
            assert now[trial_id] == record, f"finished trial {trial_id} changed after a resume"
        kept = now
    assert exp.status in ("CREATED", "INTERRUPTED", "DONE")
    manager = _start_manager(exp.id, env)
    out, err = manager.communicate(timeout=120)
    assert manager.returncode == 0, err
    assert out.strip() == "DONE"

    trials = exp.trials()
    for trial_id, record in kept.items():
        assert _finished(exp)[trial_id] == record
    assert len(trials) == total
    assert [t.sequence for t in trials] == list(range(total))
    assert all(t.status == "SUCCEEDED" for t in trials)
    assert len({t.parameter_id for t in trials}) == total
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    finals = db.execute("SELECT trial_id, COUNT(*) FROM metrics WHERE kind = 'final' GROUP BY trial_id").fetchall()
    assert sorted(count for _, count in finals) == [1] * total
    intermediates = db.execute("SELECT trial_id, COUNT(*) FROM metrics WHERE kind = 'intermediate' "
                               "GROUP BY trial_id").fetchall()
    assert sorted(count for _, count in intermediates) == [2] * total
    events = db.execute("SELECT kind, COUNT(*), COUNT(DISTINCT parameter_id) FROM tuner_events GROUP BY kind")
    assert {kind: (n, distinct) for kind, n, distinct in events} == {
        "generate": (total, total), "result": (total, total), "end": (total, total)}
    db.close()
    # Trials orphaned by the killed managers were killed on resume, not left running.
    assert _trial_processes(exp.id) == []


def test_sigint_stops_cleanly_and_resume_finishes(project: Path, nas_home: Path, helpers: Any) -> None:
    config = helpers.base_config(project, maxTrialNumber=4, trialConcurrency=2)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    exp.create()
    env = dict(os.environ, NAS_HOME=str(nas_home), TEST_TRIAL_SLEEP="30")
    manager = _start_manager(exp.id, env)
    deadline = time.monotonic() + 30
    while sum(t.status == "RUNNING" for t in exp.trials()) < 2:
        assert time.monotonic() < deadline, "trials did not start"
        time.sleep(0.05)
    manager.send_signal(signal.SIGINT)
    out, err = manager.communicate(timeout=30)
    assert out.strip() == "STOPPED", err
    assert exp.status == "STOPPED"
    assert "resume with: nasctl resume" in exp.info()["message"]
    assert [t.status for t in exp.trials()] == ["WAITING", "WAITING"]
    assert _trial_processes(exp.id) == []
    assert Experiment.load(exp.id).run() == "DONE"
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4
    assert [t.attempts for t in trials[:2]] == [2, 2]


def test_a_trial_killed_after_its_final_result_is_succeeded_with_it_not_rerun(project: Path, nas_home: Path,
                                                                              helpers: Any) -> None:
    # The trial has reported its final result (stored, and the tuner has it) and is still running
    # (saving, cleaning up) when the manager dies: on resume it is SUCCEEDED with that value, its
    # leftover process is killed, and it does not run again.
    helpers.write(project / "trial.py", helpers.TRIAL + "time.sleep(float(os.environ.get('TEST_HANG', '0')))\n")
    config = helpers.base_config(project, maxTrialNumber=2, trialConcurrency=2)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    exp.create()
    manager = _start_manager(exp.id, dict(os.environ, NAS_HOME=str(nas_home), TEST_HANG="60"))
    deadline = time.monotonic() + 60
    while sum(t.value is not None for t in exp.trials()) < 2:
        assert time.monotonic() < deadline, "trials did not report"
        time.sleep(0.05)
    manager.send_signal(signal.SIGKILL)
    manager.communicate()
    assert [t.status for t in exp.trials()] == ["RUNNING", "RUNNING"]
    first_values = [t.value for t in exp.trials()]
    # A rerun would report different values: the seed of a rerun is the same, so shift them.
    helpers.write(project / "trial.py", helpers.TRIAL.replace("value = params", "value = 1000 + params"))
    manager = _start_manager(exp.id, dict(os.environ, NAS_HOME=str(nas_home), TEST_HANG="0"))
    out, err = manager.communicate(timeout=60)
    assert out.strip() == "DONE", err
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    assert [t.attempts for t in trials] == [1, 1]
    assert [t.value for t in trials] == first_values
    assert all("final result was stored before the manager stopped" in t.message for t in trials)
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    assert db.execute("SELECT parameter_id, COUNT(*) FROM tuner_events WHERE kind = 'result' "
                      "GROUP BY parameter_id").fetchall() == [(0, 1), (1, 1)]
    assert db.execute("SELECT parameter_id, payload FROM tuner_events WHERE kind = 'end' "
                      "ORDER BY parameter_id").fetchall() == [(0, "true"), (1, "true")]
    assert db.execute("SELECT COUNT(*) FROM metrics WHERE kind = 'final'").fetchone() == (2,)
    db.close()
    assert _trial_processes(exp.id) == []


def test_a_trial_killed_between_phases_runs_again(project: Path, nas_home: Path, helpers: Any) -> None:
    # Two phases, the first one with its final result, the second without: not done, so it reruns.
    helpers.write(project / "trial.py", helpers.CLIENT + """
first = request("get_parameter")
request("metric", kind="final", value=1, parameter_id=first["parameter_id"])
second = request("get_parameter")
time.sleep(float(os.environ.get("TEST_HANG", "0")))
request("metric", kind="final", value=2, parameter_id=second["parameter_id"])
""")
    exp = Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, maxTrialNumber=1)))
    exp.create()
    manager = _start_manager(exp.id, dict(os.environ, NAS_HOME=str(nas_home), TEST_HANG="60"))
    deadline = time.monotonic() + 60
    while not exp.trials() or len(exp.trials()[0].phases) < 2:
        assert time.monotonic() < deadline, "the trial did not reach its second phase"
        time.sleep(0.05)
    manager.send_signal(signal.SIGKILL)
    manager.communicate()
    manager = _start_manager(exp.id, dict(os.environ, NAS_HOME=str(nas_home), TEST_HANG="0"))
    out, err = manager.communicate(timeout=60)
    assert out.strip() == "DONE", err
    [trial] = exp.trials()
    assert trial.status == "SUCCEEDED" and trial.attempts == 2


def test_resume_skips_and_quarantines_events_the_tuner_cannot_replay(project: Path, nas_home: Path,
                                                                     helpers: Any) -> None:
    exp = Experiment.from_yaml(helpers.write_config(project, helpers.base_config(project, maxTrialNumber=2)))
    assert exp.run() == "DONE"
    # What an older version could store (NaN from a trial) and what a custom tuner's bug does on
    # replay (the test tuner raises on a second result for one parameter); no checkpoint, so every
    # event is replayed.
    db = sqlite3.connect(str(exp.db_path))
    db.execute("INSERT INTO tuner_events(kind, parameter_id, payload) VALUES "
               "('result', 0, '{\"parameters\": {}, \"value\": NaN}'), "
               "('result', 1, '{\"parameters\": {}, \"value\": 1.5}')")
    db.execute("INSERT INTO metrics(trial_id, parameter_id, kind, value, time) "
               "SELECT trial_id, parameter_id, 'intermediate', 'NaN', 0 FROM parameters WHERE parameter_id = 0")
    db.execute("DELETE FROM checkpoints")
    db.commit()
    db.close()
    assert Experiment.load(exp.id).run() == "DONE"
    log = (exp.dir / "manager.log").read_text()
    assert log.count("skipped and quarantined") == 2
    assert "the result event of parameter 0 was skipped and quarantined (its value is refused: nan is not a " \
           "finite number)" in log
    assert "RuntimeError: result for parameter 1 received twice" in log
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    assert [row[:3] for row in db.execute("SELECT kind, parameter_id, payload FROM quarantined_events")] == [
        ("result", 0, '{"parameters": {}, "value": NaN}'), ("result", 1, '{"parameters": {}, "value": 1.5}')]
    db.close()
    # Reported once: the next resume does not meet them again. The export never writes bare NaN.
    assert Experiment.load(exp.id).run() == "DONE"
    assert (exp.dir / "manager.log").read_text().count("skipped and quarantined") == 2
    out = helpers.nasctl("experiment", "export", exp.id, "--format", "json", env={"NAS_HOME": str(nas_home)})
    assert out.returncode == 0, out.stderr
    assert "NaN" not in out.stdout and json.loads(out.stdout)[0]["intermediate"][-1] is None
