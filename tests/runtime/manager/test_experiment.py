"""The Experiment API and the local training service: results, seeds, failures, timeouts, multi-phase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager import Experiment, derive_trial_seed


def _experiment(project: Path, helpers: Any, **overrides: Any) -> Experiment:
    config = helpers.base_config(project, **overrides)
    return Experiment.from_yaml(helpers.write_config(project, config))


def test_run_stores_every_result_and_best_is_the_maximum(project: Path, nas_home: Path, helpers: Any) -> None:
    exp = _experiment(project, helpers)
    assert exp.trials() == [] and exp.status == "NEW"
    assert exp.run() == "DONE"
    trials = exp.trials()
    assert [t.sequence for t in trials] == [0, 1, 2, 3]
    assert [t.parameter_id for t in trials] == [0, 1, 2, 3]
    assert all(t.status == "SUCCEEDED" and t.exit_code == 0 for t in trials)
    seed = exp.info()["seed"]
    for t in trials:
        # The trial computes its value from its parameters and NAS_TRIAL_SEED.
        expected = t.parameters["x"] * 10 + t.parameters["y"] + derive_trial_seed(seed, t.sequence) % 7 / 100
        assert t.value == pytest.approx(expected)
        assert t.intermediate == pytest.approx([expected / 3, expected * 2 / 3])
        assert (exp.dir / "trials" / t.trial_id / "stdout").is_file()
    assert exp.best().value == max(t.value for t in trials)
    assert exp.info()["message"] == "maxTrialNumber reached"
    assert oct((exp.dir).stat().st_mode & 0o777) == "0o700"


def test_same_seed_same_architectures_and_values(project: Path, nas_home: Path, helpers: Any) -> None:
    first = _experiment(project, helpers)
    second = _experiment(project, helpers)
    first.run()
    second.run()
    assert first.id != second.id
    assert [(t.parameters, t.value) for t in first.trials()] == [(t.parameters, t.value) for t in second.trials()]


def test_failing_trial_is_recorded_and_the_experiment_goes_on(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
reply = request("get_parameter")
if reply["parameters"]["x"] in (2, 4):
    # The value in the message: failures that differ never trigger the early stop.
    sys.stderr.write("Traceback (most recent call last):\\nValueError: x = %d is even\\n" % reply["parameters"]["x"])
    sys.exit(3)
request("metric", kind="final", value=reply["parameters"]["x"], parameter_id=reply["parameter_id"])
""")
    record = project / "tuner-events.jsonl"
    exp = _experiment(project, helpers, maxTrialNumber=8, tuner={
        "codeDirectory": "tuner", "className": "recording:Recording", "classArgs": {"seed": 1, "record": str(record)}})
    helpers.write(project / "tuner" / "recording.py", """
import json
from listtuner import ListTuner

class Recording(ListTuner):
    def __init__(self, record, **kw):
        super().__init__(**kw)
        self.record = record
    def trial_end(self, parameter_id, success, **kw):
        with open(self.record, "a") as f:
            f.write(json.dumps([parameter_id, success]) + "\\n")
""")
    assert exp.run() == "DONE"
    trials = exp.trials()
    failed = [t for t in trials if t.parameters["x"] in (2, 4)]
    assert failed and len(trials) == 8
    for t in failed:
        assert t.status == "FAILED" and t.exit_code == 3
        assert t.stderr_tail.endswith(f"ValueError: x = {t.parameters['x']} is even")
        assert t.value is None
    assert all(t.status == "SUCCEEDED" for t in trials if t not in failed)
    ended = dict(tuple(json.loads(line)) for line in record.read_text().splitlines())
    assert ended == {t.parameter_id: t.status == "SUCCEEDED" for t in trials}


def test_first_trials_failing_alike_stop_the_run(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", "import sys\nsys.stderr.write('ModuleNotFoundError: No module named torchx\\n')\n"
                                         "sys.exit(1)\n")
    exp = _experiment(project, helpers, maxTrialNumber=10, trialConcurrency=1)
    assert exp.run() == "FAILED"
    info = exp.info()
    assert "the first 3 trials all failed with exit code 1" in info["message"]
    assert "No module named torchx" in info["message"]
    assert info["counts"]["FAILED"] == 3 and len(exp.trials()) == 3


def test_timeout_kills_the_trial_and_records_timeout(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
reply = request("get_parameter")
if reply["parameters"]["x"] >= 3:
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # must be SIGKILLed after the grace period
    time.sleep(60)
request("metric", kind="final", value=1.0, parameter_id=reply["parameter_id"])
""")
    exp = _experiment(project, helpers, maxTrialNumber=5, maxTrialDuration="1s")
    assert exp.run(grace_period=0.3) == "DONE"
    trials = exp.trials()
    slow = [t for t in trials if t.parameters["x"] >= 3]
    assert slow, "the seeded tuner proposes x >= 3 at least once"
    for t in slow:
        assert t.status == "TIMEOUT" and t.exit_code == -9
        assert t.end_time - t.start_time < 10
    assert all(t.status == "SUCCEEDED" for t in trials if t not in slow)


def test_tuner_exhaustion_ends_the_experiment(project: Path, nas_home: Path, helpers: Any) -> None:
    exp = _experiment(project, helpers, maxTrialNumber=10, tuner={
        "codeDirectory": "tuner", "className": "listtuner:ListTuner", "classArgs": {"limit": 3}})
    assert exp.run() == "DONE"
    assert len(exp.trials()) == 3
    assert exp.info()["message"] == "the tuner has no more trials"


def test_multi_phase_trial_gets_new_parameters_per_request(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
for phase in range(3):
    reply = request("get_parameter")
    request("metric", kind="final", value=phase + reply["parameters"]["x"], parameter_id=reply["parameter_id"])
arch = {"m/b": {"h": {"chosen_layer": "conv()", "chosen_inputs": []}}}
assert request("architecture", architecture=arch, parameter_id=reply["parameter_id"])["type"] == "ack"
assert request("log", level="info", message="hello")["type"] == "ack"
# A second final result for the same parameter is ignored, with a warning.
assert "warning" in request("metric", kind="final", value=0, parameter_id=reply["parameter_id"])
""")
    exp = _experiment(project, helpers, maxTrialNumber=2, trialConcurrency=1)
    assert exp.run() == "DONE"
    trials = exp.trials()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    assert [[p["parameter_id"] for p in t.phases] for t in trials] == [[0, 1, 2], [3, 4, 5]]
    for t in trials:
        assert [p["value"] for p in t.phases] == [i + p["parameters"]["x"] for i, p in enumerate(t.phases)]
        assert t.derived_architecture == {"m/b": {"h": {"chosen_layer": "conv()", "chosen_inputs": []}}}
        assert t.to_dict()["derived_architecture"] == t.derived_architecture
    assert f"trial {trials[0].trial_id}: hello" in (exp.dir / "manager.log").read_text()


def test_trial_environment_gpus_and_mode_config(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + """
reply = request("get_parameter")
keep = {k: v for k, v in os.environ.items() if k.startswith("NAS_") or k == "CUDA_VISIBLE_DEVICES"}
keep["cwd"] = os.getcwd()
with open(os.path.join(os.environ["NAS_OUTPUT_DIR"], "env.json"), "w") as f:
    json.dump(keep, f)
time.sleep(0.2)
request("metric", kind="final", value=1, parameter_id=reply["parameter_id"])
""")
    exp = _experiment(project, helpers, maxTrialNumber=4, useAnnotation=False, nasMode="enas_mode",
                      enas={"window": 3}, trainingService={"platform": "local", "gpuIndices": [3, 5]})
    assert exp.run() == "DONE"
    seen = set()
    for t in exp.trials():
        folder = exp.dir / "trials" / t.trial_id
        env = json.loads((folder / "env.json").read_text())
        assert env["NAS_PLATFORM"] == "local" and env["NAS_TRIAL_ID"] == t.trial_id
        assert env["NAS_EXPERIMENT_ID"] == exp.id and env["NAS_MODE"] == "enas"
        assert json.loads(env["NAS_MODE_CONFIG"]) == {"window": 3}
        assert env["NAS_TRIAL_SEED"] == str(derive_trial_seed(7, t.sequence))
        assert env["NAS_CHANNEL"].startswith("unix:") and len(env["NAS_TOKEN"]) >= 32
        assert Path(env["cwd"]).resolve() == folder.resolve() and (folder / "trial.py").is_symlink()
        seen.add(env["CUDA_VISIBLE_DEVICES"])
    assert seen == {"3", "5"}


def test_experiment_duration_cancels_running_trials(project: Path, nas_home: Path, helpers: Any) -> None:
    helpers.write(project / "trial.py", helpers.CLIENT + "request('get_parameter')\ntime.sleep(60)\n")
    exp = _experiment(project, helpers, maxTrialNumber=10, maxExperimentDuration="1s")
    assert exp.run(grace_period=0.3) == "DONE"
    assert exp.info()["message"] == "maxExperimentDuration reached"
    assert [t.status for t in exp.trials()] == ["USER_CANCELED", "USER_CANCELED"]


def test_dict_config_and_ids(project: Path, nas_home: Path, helpers: Any) -> None:
    config = helpers.base_config(project, maxTrialNumber=1)
    exp = Experiment(config, id="my-exp", base_dir=project)
    assert exp.run() == "DONE" and exp.dir == nas_home / "my-exp"
    assert Experiment.load("my-exp").trials()[0].to_dict() == exp.trials()[0].to_dict()
    with pytest.raises(ExperimentError, match="experiment 'my-exp' already exists .* nasctl resume my-exp"):
        Experiment(config, id="my-exp", base_dir=project).run()
    with pytest.raises(ExperimentError, match="invalid experiment id '../x'"):
        Experiment(config, id="../x", base_dir=project)
    with pytest.raises(ExperimentError, match="no experiment 'nope'"):
        Experiment.load("nope")


def test_bad_search_space_file_is_refused_before_anything_runs(project: Path, nas_home: Path,
                                                               helpers: Any) -> None:
    from nasctl import schemas

    (project / "space.json").write_text('{"x": {"_type": "choice"}}')
    exp = _experiment(project, helpers)
    with pytest.raises(schemas.SchemaError, match="space.json: key 'x'"):
        exp.run()
    assert not exp.dir.exists()
