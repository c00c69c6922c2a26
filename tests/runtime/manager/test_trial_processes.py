"""No process of a trial outlives it: not after it ends, times out or the experiment stops, not even
children that left its process group with setsid."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.manager._experiment import Experiment

# The trial starts a grandchild in a new session (out of the trial's process group) and records its pid.
ESCAPE = """
import subprocess
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
with open(os.environ["TEST_PIDS"], "a") as handle:
    handle.write(f"{child.pid}\\n")
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["ends", "times_out", "experiment_time_is_up"])
def test_setsid_children_are_killed_when_the_trial_stops(project: Path, nas_home: Path, helpers: Any,
                                                         monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    pids = project / "pids.txt"
    monkeypatch.setenv("TEST_PIDS", str(pids))
    tail = {"ends": 'request("metric", kind="final", value=1.0, parameter_id=pid)\n',
            "times_out": "time.sleep(60)\n", "experiment_time_is_up": "time.sleep(60)\n"}[how]
    helpers.write(project / "trial.py", helpers.CLIENT + ESCAPE +
                  'pid = request("get_parameter")["parameter_id"]\n' + tail)
    limits = {"ends": {}, "times_out": {"maxTrialDuration": "1s"},
              "experiment_time_is_up": {"maxExperimentDuration": "2s"}}[how]
    config = helpers.base_config(project, maxTrialNumber=2, **limits)
    exp = Experiment.from_yaml(helpers.write_config(project, config))
    assert exp.run(grace_period=0.2) == "DONE"
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in started if _alive(pid)]


def test_resume_kills_what_a_killed_managers_trial_left_outside_its_group() -> None:
    import os
    import subprocess
    import sys

    from nasctl.runtime.manager._local import kill_orphans

    env = dict(os.environ, NAS_EXPERIMENT_ID="exp1", NAS_TRIAL_ID="t0001")
    escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env,
                               start_new_session=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env=dict(env, NAS_TRIAL_ID="t0002"), start_new_session=True)
    try:
        time.sleep(0.2)
        # The group recorded for the trial is gone (its leader exited); the escaped process is found by its marks.
        assert kill_orphans(2**22 + 12345, "exp1", "t0001")
        assert escaped.wait(timeout=5) == -9
        assert other.poll() is None  # another trial's process is left alone
    finally:
        for process in (escaped, other):
            process.kill()
            process.wait()
