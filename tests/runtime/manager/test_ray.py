"""The Ray training service against a real Ray: a head and two worker nodes on this machine.

The cluster is started once for the module (head without CPUs and with a Ray Client server for
`ray://` addresses, two nodes of 2 CPUs and one GPU, which Ray assigns without a device) and shut
down at its end, also when a test fails. Trials are trivial `nas` scripts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from nasctl.runtime.manager import Experiment  # noqa: E402
from nasctl.runtime.manager._manager import manager_pid  # noqa: E402
from nasctl.runtime.manager._ray import NODE_FOLDER  # noqa: E402

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_memory_monitor_refresh_ms": "0"}

# `behaviour.json` (shipped with the code) says which x sleeps, fails or hangs.
TRIAL = '''
import json, os, sys, time
import nas

params = nas.get_next_parameter()
behaviour = json.load(open("behaviour.json"))
x = params["x"]
print("platform", os.environ["NAS_PLATFORM"], "channel", os.environ["NAS_CHANNEL"], "x", x,
      "gpus", repr(os.environ.get("CUDA_VISIBLE_DEVICES")), flush=True)
time.sleep(behaviour.get("sleep", 0))
if x in behaviour.get("hang", []):
    time.sleep(120)
for _ in range(1200 if x in behaviour.get("stall", []) else 0):
    nas.report_intermediate_result(-1.0)
    time.sleep(0.1)
if x in behaviour.get("fail", []):
    print(f"boom: x={x} is not allowed", file=sys.stderr)
    sys.exit(3)
value = x * 10 + params["y"] + (nas.get_trial_seed() % 7) / 100
nas.report_intermediate_result(value / 2)
nas.report_final_result(value)
'''

# Stops a trial whose last intermediate result is negative.
STOPPER = '''
from nasctl.tuners.assessors import Assessor, AssessResult


class Stopper(Assessor):
    def __init__(self, optimize_mode="maximize"):
        pass

    def assess_trial(self, trial_job_id, trial_history):
        return AssessResult.Bad if trial_history[-1] < 0 else AssessResult.Good
'''

_MANAGER = "import sys; from nasctl.runtime.manager import Experiment; print(Experiment.load(sys.argv[1]).run())"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as patch:
        for name, value in RAY_ENV.items():
            patch.setenv(name, value)
        client_port = _free_port()
        started = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                                "ray_client_server_port": client_port})
        started.client_port = client_port  # for `ray://127.0.0.1:{client_port}`
        try:
            for _ in range(2):
                started.add_node(num_cpus=2, num_gpus=1, include_dashboard=False)  # Ray's GPUs need no device
            started.wait_for_nodes()
            yield started
        finally:
            if ray.is_initialized():
                ray.shutdown()
            started.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def ray_project(project: Path, helpers: Any) -> Path:
    helpers.write(project / "trial.py", TRIAL)
    return project


def _config(helpers: Any, project: Path, service: dict[str, Any], behaviour: dict[str, Any], **overrides: Any) -> Path:
    """A config of 20 trials at concurrency 4 on `service`; an override of None removes the key."""
    (project / "behaviour.json").write_text(json.dumps(behaviour))
    config = helpers.base_config(project, trialConcurrency=4, maxTrialNumber=20, trainingService=service)
    config.update(overrides)
    config = {key: value for key, value in config.items() if value is not None}
    return helpers.write_config(project, config, name=f"{service['platform']}.yml")


def _results(exp: Experiment) -> list[tuple[int, Any, Any, list[Any]]]:
    return [(t.sequence, t.parameters, t.value, t.intermediate) for t in exp.trials()]


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


def _wait_until_gone(exp_id: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _trial_processes(exp_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _statuses(exp: Experiment) -> dict[str, int]:
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())
    finally:
        db.close()


@pytest.fixture
def node_folders() -> Iterator[list[str]]:
    """Experiment ids whose trial folders on the nodes (this machine's temp dir) are removed at the end."""
    import shutil
    import tempfile

    ids: list[str] = []
    yield ids
    for exp_id in ids:
        shutil.rmtree(Path(tempfile.gettempdir(), NODE_FOLDER, exp_id), ignore_errors=True)


def test_failures_timeouts_early_stops_and_gpus_on_ray_come_back_like_local_ones(
        cluster: Any, ray_project: Path, nas_home: Path, helpers: Any, node_folders: list[str]) -> None:
    service = {"platform": "ray", "address": cluster.address}
    helpers.write(ray_project / "assessor" / "stopper.py", STOPPER)
    config = _config(helpers, ray_project, service, {"fail": [5], "hang": [1], "stall": [3]}, maxTrialDuration="2s",
                     trialGpuNumber=1, maxTrialNumber=4, tuner={"name": "GridSearch"}, searchSpaceFile=None,
                     searchSpace={"x": {"_type": "choice", "_value": [1, 2, 3, 5]},
                                  "y": {"_type": "choice", "_value": [0]}},
                     assessor={"className": "stopper:Stopper", "codeDirectory": "assessor"})
    exp = Experiment.from_yaml(config)
    node_folders.append(exp.id)
    assert exp.run(grace_period=1.0) == "DONE"
    by_x = {t.parameters["x"]: t for t in exp.trials()}
    assert by_x[2].status == "SUCCEEDED" and by_x[2].value is not None
    for trial in by_x.values():  # each node has one GPU, id 0: Ray's assignment is stored and given to the trial
        assert trial.gpus == "0"
        folder = exp.dir / "trials" / trial.trial_id
        if trial.status != "EARLY_STOPPED":
            assert (folder / "stdout").read_text().endswith(" gpus '0'\n")
        else:  # a cancelled Ray task hands nothing back; its output stays on its node
            note = (folder / "stderr").read_text()
            assert re.fullmatch(r"\[nasctl: cancelled on Ray; its output is in (\S+) on node \S+\]\n", note), note
            node_folder = Path(note.split(" is in ")[1].split(" on node ")[0])
            assert (node_folder / "stdout").read_text().endswith(" gpus '0'\n")
    assert by_x[5].status == "FAILED" and by_x[5].exit_code == 3 and by_x[5].message == "exit code 3"
    assert by_x[5].stderr_tail == "boom: x=5 is not allowed"
    assert by_x[1].status == "TIMEOUT" and by_x[1].message == "killed after maxTrialDuration (2s)"
    assert by_x[1].exit_code == -signal.SIGTERM
    assert by_x[3].status == "EARLY_STOPPED" and by_x[3].message.startswith("stopped early by assessor")
    assert _wait_until_gone(exp.id) == []


@pytest.fixture
def managers() -> Iterator[list[subprocess.Popen]]:
    """Manager processes a test starts; any still running at its end (a failed test) is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for manager in started:
        if manager.poll() is None:
            manager.kill()
        manager.communicate()


def test_twenty_trials_on_two_nodes_survive_stop_and_kill_9_and_match_a_local_run(
        cluster: Any, ray_project: Path, nas_home: Path, helpers: Any, node_folders: list[str],
        managers: list[subprocess.Popen]) -> None:
    reference = Experiment.from_yaml(_config(helpers, ray_project, {"platform": "local"}, {}))
    assert reference.run() == "DONE"
    exp = Experiment.from_yaml(_config(helpers, ray_project, {"platform": "ray", "address": cluster.address},
                                       {"sleep": 0.4}))
    exp.create()
    node_folders.append(exp.id)
    env = dict(os.environ, NAS_HOME=str(nas_home), **RAY_ENV)

    def start() -> subprocess.Popen:
        manager = subprocess.Popen([sys.executable, "-c", _MANAGER, exp.id], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        managers.append(manager)
        deadline = time.monotonic() + 60
        while manager_pid(exp.dir) != manager.pid:
            assert manager.poll() is None and time.monotonic() < deadline, manager.communicate()
            time.sleep(0.05)
        return manager

    def wait_for(done: int, manager: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while not (_statuses(exp).get("SUCCEEDED", 0) >= done and _trial_processes(exp.id)):
            if manager.poll() is not None or time.monotonic() >= deadline:
                failed = [(t.trial_id, t.status, t.message, t.stderr_tail) for t in exp.trials()
                          if t.status not in ("SUCCEEDED", "RUNNING", "WAITING")]
                log = (exp.dir / "manager.log").read_text()[-3000:] if (exp.dir / "manager.log").is_file() else ""
                pytest.fail(f"manager ended or timed out: {manager.poll()} {failed} {log}")
            time.sleep(0.05)

    # SIGTERM (nasctl stop): the running trials are cancelled on Ray and wait for the resume.
    manager = start()
    wait_for(2, manager)
    manager.send_signal(signal.SIGTERM)
    out, err = manager.communicate(timeout=60)
    assert out.strip() == "STOPPED", err
    assert _wait_until_gone(exp.id) == []
    assert set(_statuses(exp)) <= {"SUCCEEDED", "WAITING"}

    # SIGKILL: Ray ends the dead manager's tasks; the resume reruns the trials they were running.
    manager = start()
    wait_for(8, manager)
    manager.send_signal(signal.SIGKILL)
    manager.communicate()
    running = {t.trial_id for t in exp.trials() if t.status == "RUNNING"}
    # Those that had not reported their final result run again; the others count as done.
    rerun = {t.trial_id for t in exp.trials() if t.trial_id in running and t.value is None}
    kept = {t.trial_id: t.to_dict() for t in exp.trials() if t.status == "SUCCEEDED"}
    assert running and _wait_until_gone(exp.id) == []

    manager = start()
    out, err = manager.communicate(timeout=120)
    assert manager.returncode == 0 and out.strip() == "DONE", err
    trials = exp.trials()
    assert len(trials) == 20 and all(t.status == "SUCCEEDED" for t in trials)
    assert {t.trial_id: t.to_dict() for t in trials if t.trial_id in kept} == kept
    assert all(t.attempts >= 2 for t in trials if t.trial_id in rerun)
    db = sqlite3.connect(f"file:{exp.db_path}?mode=ro", uri=True)
    try:
        finals = db.execute("SELECT COUNT(*), COUNT(DISTINCT trial_id) FROM metrics WHERE kind = 'final'").fetchone()
        results = db.execute("SELECT COUNT(*), COUNT(DISTINCT parameter_id) FROM tuner_events "
                             "WHERE kind = 'result'").fetchone()
    finally:
        db.close()
    assert finals == (20, 20) and results == (20, 20)
    assert _results(exp) == _results(reference)
    for trial in trials:
        stdout = (exp.dir / "trials" / trial.trial_id / "stdout").read_text()
        if on_node := re.fullmatch(r"\[nasctl: running on Ray; its output is in (\S+) on node \S+\]\n", stdout):
            # It reported its final result just before the kill: its output stayed on its node (here).
            stdout = (Path(on_node.group(1)) / "stdout").read_text()
        assert re.match(rf"platform ray channel tcp:[0-9.]+:\d+ x {trial.parameters['x']} gpus ''\n", stdout), stdout
        assert trial.gpus is None
    log = (exp.dir / "manager.log").read_text()
    assert len(set(re.findall(r"running on node \S+ \(id (\w+)\)", log))) == 2, "both worker nodes should run trials"


def test_a_ray_client_address_runs_the_trials_like_a_local_run(
        cluster: Any, ray_project: Path, nas_home: Path, helpers: Any, node_folders: list[str]) -> None:
    reference = Experiment.from_yaml(_config(helpers, ray_project, {"platform": "local"}, {}, maxTrialNumber=4,
                                             trialConcurrency=2))
    assert reference.run() == "DONE"
    address = f"ray://127.0.0.1:{cluster.client_port}"
    exp = Experiment.from_yaml(_config(helpers, ray_project, {"platform": "ray", "address": address}, {},
                                       maxTrialNumber=4, trialConcurrency=2))
    node_folders.append(exp.id)
    assert exp.run() == "DONE"
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4
    assert _results(exp) == _results(reference)
    for trial in trials:  # Ray Client has no streaming tasks: the output comes back at the trial's end
        stdout = (exp.dir / "trials" / trial.trial_id / "stdout").read_text()
        assert stdout.startswith("platform ray channel tcp:"), stdout
    assert f"Ray at {address}" in (exp.dir / "manager.log").read_text()
    assert not ray.is_initialized()


def test_an_address_where_no_ray_listens_fails_at_once(ray_project: Path, nas_home: Path, helpers: Any) -> None:
    from nasctl.runtime.errors import ExperimentError

    port = _free_port()
    exp = Experiment.from_yaml(_config(helpers, ray_project, {"platform": "ray", "address": f"127.0.0.1:{port}"}, {}))
    with pytest.raises(ExperimentError, match=rf"cannot reach Ray at trainingService\.address '127\.0\.0\.1:{port}': "
                                              r"Connection refused \(is `ray start --head` running there\?\)"):
        exp.run()
    assert exp.status == "FAILED" and not ray.is_initialized()
