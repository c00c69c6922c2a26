"""What `nasctl view` shows, as JSON-ready dicts, read from the experiment databases without writing.

Every function opens the databases read-only (through `Experiment.load`, `info()` and `trials()`),
so the view can run beside a manager that is writing.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

from nasctl.runtime.manager._experiment import Experiment, best_trial, experiment_ids
from nasctl.runtime.manager._manager import manager_pid
from nasctl.runtime.manager._storage import DB_NAME, TrialRecord

__all__ = ["experiment_list", "experiment_detail", "trial_detail", "arch_weight_series"]

# Lines of stderr the trials table shows for a failed trial (the database keeps more).
_STDERR_LINES = 20


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("default")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _fingerprint(folder: Path) -> tuple[Any, ...]:
    """Changes whenever what the list shows of an experiment may have changed."""
    stats = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        with contextlib.suppress(FileNotFoundError):
            stat = (folder / name).stat()
            if stat.st_size:  # a reader leaves an empty -wal behind: nothing changed
                stats.append((name, stat.st_mtime_ns, stat.st_size))
    return (*stats, manager_pid(folder))


def experiment_list(home: Path, cache: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One summary per experiment under `home`, newest first; an unreadable one says why.

    With `cache` (a dict kept between calls), an experiment whose database has not changed since the
    last call is not read again.
    """
    out = []
    for exp_id in reversed(experiment_ids(home)):
        key = _fingerprint(home / exp_id)
        if cache is not None and exp_id in cache and cache[exp_id][0] == key:
            out.append(cache[exp_id][1])
            continue
        summary = _summary(home, exp_id)
        if cache is not None:
            cache[exp_id] = (key, summary)
        out.append(summary)
    return out


def _summary(home: Path, exp_id: str) -> dict[str, Any]:
    try:
        exp = Experiment.load(exp_id, nas_home=home)
        info = exp.info()
        records = exp.trials()
    except Exception as error:  # one broken folder must not hide the others
        return {"id": exp_id, "status": "UNREADABLE", "message": f"{type(error).__name__}: {error}"}
    best = best_trial(records, info.get("optimize_mode", "maximize"))
    return {
        "id": exp_id, "name": info.get("name"), "status": info["status"], "message": info.get("message"),
        "created": info.get("created"), "trials": len(records),
        "counts": {status: n for status, n in info["counts"].items() if n},
        "max_trials": exp.config.max_trial_number, "mode": exp.config.nas_mode,
        "best": None if best is None else best.default_value,
    }


def _trial_row(record: TrialRecord, now: float) -> dict[str, Any]:
    end = record.end_time if record.end_time else (now if record.status == "RUNNING" else None)
    duration = end - record.start_time if record.start_time and end else None
    failed = record.status not in ("SUCCEEDED", "RUNNING", "WAITING")
    tail = None
    if failed and record.stderr_tail:
        tail = "\n".join(record.stderr_tail.rstrip().splitlines()[-_STDERR_LINES:])
    curve = [_number(value) for value in record.intermediate]
    return {
        "trial_id": record.trial_id, "sequence": record.sequence, "status": record.status,
        "parameters": record.parameters, "value": _number(record.value), "duration": duration,
        "exit_code": record.exit_code, "message": record.message, "stderr_tail": tail,
        "intermediate": curve, "latest": next((v for v in reversed(curve) if v is not None), None),
        "has_arch_weights": bool(record.arch_weights), "attempts": record.attempts,
    }


def experiment_detail(home: Path, exp_id: str) -> dict[str, Any]:
    """An experiment's status, limits, best trial and every trial (with its intermediate curve)."""
    exp = Experiment.load(exp_id, nas_home=home)
    info = exp.info()
    records = exp.trials()
    mode = info.get("optimize_mode", "maximize")
    best = best_trial(records, mode)
    config = exp.config
    now = time.time()
    return {
        "id": exp_id, "name": info.get("name"), "status": info["status"], "message": info.get("message"),
        "mode": config.nas_mode, "tuner": config.tuner.name if config.tuner else None, "optimize_mode": mode,
        "max_trials": config.max_trial_number, "max_duration": config.max_experiment_duration,
        "elapsed": info["elapsed"], "created": info.get("created"),
        "counts": {status: n for status, n in info["counts"].items() if n},
        "best": None if best is None else {
            "trial_id": best.trial_id, "value": best.default_value,
            "architecture": {**(best.parameters or {}), **(best.derived_architecture or {})},
        },
        "trials": [_trial_row(record, now) for record in records],
    }


def arch_weight_series(reports: list[Any]) -> dict[str, Any]:
    """A darts trial's architecture weights over training as plot series.

    `reports` are its `arch_weights` metrics (`{"default", "arch_weights": {block: {layer: {"layer":
    {label: p}, "inputs": {label: gate}}}}, "step"}`). Returns `{"steps": [...], "series": [{"layer":
    "block/layer", "kind": "op" | "input", "label", "values": [...]}]}`, one value per report (None
    where a report lacks that weight).
    """
    steps: list[Any] = []
    series: dict[tuple[str, str, str], list[float | None]] = {}
    usable = [r for r in reports if isinstance(r, dict) and isinstance(r.get("arch_weights"), dict)]
    for index, report in enumerate(usable):
        steps.append(report.get("step", index))
        for block, layers in report["arch_weights"].items():
            for layer, weights in (layers or {}).items():
                for field, kind in (("layer", "op"), ("inputs", "input")):
                    for label, value in ((weights or {}).get(field) or {}).items():
                        values = series.setdefault((f"{block}/{layer}", kind, label), [None] * index)
                        values.extend([None] * (index - len(values)))
                        values.append(_number(value))
    for values in series.values():
        values.extend([None] * (len(steps) - len(values)))
    return {"steps": steps, "series": [{"layer": layer, "kind": kind, "label": label, "values": values}
                                       for (layer, kind, label), values in series.items()]}


def trial_detail(home: Path, exp_id: str, trial_id: str) -> dict[str, Any]:
    """One trial in full: the table's row, its derived architecture, phases and architecture weights."""
    exp = Experiment.load(exp_id, nas_home=home)
    record = exp.trial(trial_id)
    row = _trial_row(record, time.time())
    row["stderr_tail"] = record.stderr_tail
    row["derived_architecture"] = record.derived_architecture
    row["phases"] = record.phases
    row["arch_weights"] = arch_weight_series(record.arch_weights)
    return row
