"""Resume: a manager SIGKILLed at random moments loses nothing and counts nothing twice."""

from __future__ import annotations

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


def test_killed_after_the_final_result_but_before_the_exit(project: Path, nas_home: Path, helpers: Any) -> None:
    # The trial has reported its final result (the tuner has it) when the manager dies; the trial
    # runs again on resume and reports again: stored once, and not given to the tuner twice (the
    # test tuner raises on a second result for one parameter id, which fails the experiment).
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
    manager = _start_manager(exp.id, dict(os.environ, NAS_HOME=str(nas_home), TEST_HANG="0"))
    out, err = manager.communicate(timeout=60)
    assert out.strip() == "DONE", err
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    assert [t.attempts for t in trials] == [2, 2]
    assert [t.value for t in trials] == first_values  # seeded: the rerun reports the same
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    assert db.execute("SELECT parameter_id, COUNT(*) FROM tuner_events WHERE kind = 'result' "
                      "GROUP BY parameter_id").fetchall() == [(0, 1), (1, 1)]
    assert db.execute("SELECT COUNT(*) FROM metrics WHERE kind = 'final'").fetchone() == (2,)
    db.close()
    assert "already has the result of parameter" in (exp.dir / "manager.log").read_text()
