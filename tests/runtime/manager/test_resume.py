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

from runtime.manager import Experiment

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
        time.sleep(rng.uniform(0.3, 1.2))
        manager.send_signal(signal.SIGKILL)
        manager.communicate()
        now = _finished(exp)
        for trial_id, record in kept.items():
            assert now[trial_id] == record, f"finished trial {trial_id} changed after a resume"
        kept = now
    assert exp.status in ("INTERRUPTED", "DONE")
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
