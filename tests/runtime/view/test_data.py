"""What the view reads: experiment list, experiment detail, one trial, architecture-weight series."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.view import arch_weight_series, experiment_detail, experiment_list, trial_detail


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# A valid space: an experiment is created only when its tuner takes its search space.
SPACE = {"x": {"_type": "choice", "_value": [1, 2]}}


def test_the_list_summarises_each_experiment(finished: Any) -> None:
    (listed,) = experiment_list(finished.home)
    assert listed["id"] == finished.id and listed["status"] == "DONE"
    assert listed["counts"] == {"SUCCEEDED": 4, "FAILED": 1} and listed["trials"] == 5 and listed["max_trials"] == 5


def test_the_detail_has_every_trial_its_curve_and_the_best(finished: Any) -> None:
    detail = experiment_detail(finished.home, finished.id)
    assert [t["trial_id"] for t in detail["trials"]] == finished.trial_ids
    succeeded = [t for t in detail["trials"] if t["status"] == "SUCCEEDED"]
    best = max(succeeded, key=lambda t: t["value"])
    assert detail["best"]["trial_id"] == best["trial_id"] and detail["best"]["architecture"] == best["parameters"]
    for trial in succeeded:
        x, y = trial["parameters"]["x"], trial["parameters"]["y"]
        assert trial["value"] == pytest.approx(10 * x + y)
        assert trial["intermediate"] == pytest.approx([(10 * x + y) * k / 3 for k in (1, 2, 3)])
        assert trial["latest"] == trial["intermediate"][-1] and trial["has_arch_weights"]
        assert trial["stderr_tail"] is None and trial["duration"] > 0
    (failed,) = [t for t in detail["trials"] if t["status"] == "FAILED"]
    assert failed["sequence"] == 2 and failed["exit_code"] == 3 and failed["value"] is None
    assert failed["stderr_tail"].endswith("RuntimeError: trial two always fails")


def test_a_trial_in_full_has_its_architecture_weights_over_training(finished: Any) -> None:
    trial = trial_detail(finished.home, finished.id, finished.trial_ids[0])
    weights = trial["arch_weights"]
    assert weights["steps"] == [5, 10, 15]
    series = {(s["layer"], s["kind"], s["label"]): s["values"] for s in weights["series"]}
    assert series[("net/Net.forward/h/h", "op", "conv")] == pytest.approx([0.5, 0.6, 0.7])
    assert series[("net/Net.forward/h/h", "op", "pool")] == pytest.approx([0.5, 0.4, 0.3])
    assert series[("net/Net.forward/h/h", "input", "x")] == pytest.approx([0.4] * 3)


def test_unknown_experiments_and_trials_are_named(finished: Any) -> None:
    with pytest.raises(ExperimentError, match="no experiment 'nosuch'"):
        experiment_detail(finished.home, "nosuch")
    with pytest.raises(ExperimentError, match=f"experiment {finished.id}: no trial 'zzz'"):
        trial_detail(finished.home, finished.id, "zzz")


def test_reading_never_writes_the_experiment(finished: Any) -> None:
    folder = finished.home / finished.id
    before = _files(folder)
    experiment_list(finished.home)
    experiment_detail(finished.home, finished.id)
    trial_detail(finished.home, finished.id, finished.trial_ids[0])
    assert _files(folder) == before


def test_weight_series_line_up_reports_that_lack_a_weight() -> None:
    def report(step: int, labels: dict[str, float]) -> dict[str, Any]:
        return {"default": 0.0, "step": step, "arch_weights": {"b": {"l": {"layer": labels, "inputs": {}}}}}

    reports = [report(1, {"a": 0.5}), {"default": 1.0}, report(2, {"a": 0.4, "c": 0.6}), report(3, {"c": 0.9})]
    series = arch_weight_series(reports)
    assert series["steps"] == [1, 2, 3]  # the report without weights is left out
    values = {s["label"]: s["values"] for s in series["series"]}
    assert values == {"a": [0.5, 0.4, None], "c": [None, 0.6, 0.9]}


def test_non_finite_values_become_gaps() -> None:
    reports = [{"default": 0.0, "step": 1, "arch_weights": {"b": {"l": {"layer": {"a": float("nan")}}}}}]
    assert arch_weight_series(reports)["series"][0]["values"] == [None]


def test_a_running_trial_shows_its_latest_result_and_time_so_far(tmp_path: Path) -> None:
    from nasctl.runtime.manager import Experiment
    from nasctl.runtime.manager._storage import Storage

    config = {"trialCommand": "true", "trialCodeDirectory": str(tmp_path), "searchSpace": SPACE,
              "tuner": {"name": "Random"}, "maxTrialNumber": 3}
    exp = Experiment(config, id="live", nas_home=tmp_path / "home")
    exp.create()
    storage = Storage(exp.db_path)
    try:
        storage.add_trial("run01", 0, 0, {"x": 1})
        storage.set_running("run01", None)
        for step, value in enumerate((0.2, 0.5)):
            storage.add_metric("run01", 0, "intermediate", step, value)
        storage.add_trial("stop1", 1, 1, {"x": 2})
        storage.set_running("stop1", None)
        storage.add_metric("stop1", 1, "intermediate", 0, 0.1)
        with storage.transaction() as db:  # a status this code does not know of is shown as it is
            db.execute("UPDATE trials SET status = 'EARLY_STOPPED', end_time = start_time + 2, "
                       "stderr_tail = 'stopped by the assessor' WHERE trial_id = 'stop1'")
    finally:
        storage.close()
    detail = experiment_detail(tmp_path / "home", "live")
    running, stopped = detail["trials"]
    assert running["status"] == "RUNNING" and running["latest"] == 0.5 and running["value"] is None
    assert running["duration"] is not None and running["duration"] >= 0
    assert stopped["status"] == "EARLY_STOPPED" and stopped["duration"] == pytest.approx(2)
    assert stopped["latest"] == 0.1 and stopped["stderr_tail"] == "stopped by the assessor"
    assert detail["counts"] == {"RUNNING": 1, "EARLY_STOPPED": 1} and detail["best"] is None
    later = experiment_detail(tmp_path / "home", "live")["trials"][0]
    assert later["duration"] >= running["duration"]


def test_the_list_reads_an_experiment_again_only_when_it_changed(tmp_path: Path) -> None:
    from nasctl.runtime.manager import Experiment
    from nasctl.runtime.manager._storage import Storage

    config = {"trialCommand": "true", "trialCodeDirectory": str(tmp_path), "searchSpace": SPACE,
              "tuner": {"name": "Random"}, "maxTrialNumber": 3}
    exp = Experiment(config, id="cached", nas_home=tmp_path / "home")
    exp.create()
    cache: dict[str, Any] = {}
    (first,) = experiment_list(tmp_path / "home", cache)
    (again,) = experiment_list(tmp_path / "home", cache)
    assert again is first and first["trials"] == 0  # served from the cache
    storage = Storage(exp.db_path)
    try:
        storage.add_trial("t0001", 0, 0, {})
    finally:
        storage.close()
    (changed,) = experiment_list(tmp_path / "home", cache)
    assert changed["trials"] == 1
