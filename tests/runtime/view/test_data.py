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
