"""`nasctl experiment follow | update | delete` and `nasctl trial show`: watch and steer a stored experiment.

`follow` only reads the database (read-only), like the view; `update` and `delete` change it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._kinds import FAILED_STATUSES, FINISHED_STATUSES, ExperimentStatus, TrialStatus

__all__ = ["register_experiment", "register_trial", "progress_of", "trial_report"]

# How often `follow` reads the database.
_FOLLOW_EVERY = 0.5


def register_experiment(sub: argparse._SubParsersAction) -> None:
    """Add `follow`, `update` and `delete` to the `experiment` group."""
    follow = sub.add_parser("follow", help="the progress bar and live best of a running experiment",
                            description="Follow a (background) experiment: its progress bar and best value, "
                                        "until it ends. Ctrl-C stops following; the experiment goes on.")
    follow.add_argument("id", metavar="ID")
    follow.set_defaults(func=_follow)
    update = sub.add_parser("update", help="change the trial or time budget of a stopped or running experiment",
                            description="Change maxTrialNumber and/or maxExperimentDuration. A running "
                                        "experiment takes the change up within a second; a stopped one "
                                        "on nasctl resume.")
    update.add_argument("id", metavar="ID")
    update.add_argument("--max-trials", type=int, metavar="N", help="the new maxTrialNumber")
    update.add_argument("--max-duration", metavar="D", help="the new maxExperimentDuration (30s, 10m, 2h, 1d)")
    update.set_defaults(func=_update)
    delete = sub.add_parser("delete", help="delete a stopped experiment: its database, trials and logs")
    delete.add_argument("id", metavar="ID")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=_delete)


def register_trial(trial_commands: argparse._SubParsersAction) -> None:
    """Add `show` to the `trial` group."""
    show = trial_commands.add_parser("show", help="one trial in full: parameters, architecture, metrics, logs")
    show.add_argument("id", metavar="ID")
    show.add_argument("trial_id", metavar="T")
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.set_defaults(func=_trial_show)


def _load(exp_id: str) -> Any:
    from nasctl.runtime.manager._experiment import Experiment

    return Experiment.load(exp_id)


# -- follow -----------------------------------------------------------------------------------------


def progress_of(exp: Any) -> tuple[ExperimentStatus, Any]:
    """`(status, Progress)` of a stored experiment, read from its database as the manager's bar shows it."""
    from nasctl.runtime.manager._manager import Progress

    info = exp.info()
    counts = info["counts"]
    values = [t.default_value for t in exp.trials() if t.default_value is not None]
    pick = min if info.get("optimize_mode") == "minimize" else max
    progress = Progress(done=sum(counts[status] for status in FINISHED_STATUSES),
                        running=counts[TrialStatus.RUNNING], failed=sum(counts[status] for status in FAILED_STATUSES),
                        total=exp.config.max_trial_number, best=pick(values) if values else None,
                        elapsed=info["elapsed"])
    return info["status"], progress


def _follow(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._cli import _ProgressBar, _report_end
    from nasctl.runtime.manager._manager import manager_pid

    exp = _load(args.id)
    status, progress = progress_of(exp)
    if status == ExperimentStatus.CREATED and manager_pid(exp.dir) is None:
        raise ExperimentError(f"experiment {exp.id} has not started; start it with: nasctl resume {exp.id}")
    if status in (ExperimentStatus.RUNNING, ExperimentStatus.CREATED):
        print(f"following experiment {exp.id} (Ctrl-C stops following; the experiment goes on)", file=sys.stderr)
    bar = _ProgressBar()
    try:
        while True:
            # Re-read: `nasctl experiment update` may change the trial budget the bar shows.
            exp.config = _load(args.id).config
            status, progress = progress_of(exp)
            bar(progress)
            if status not in (ExperimentStatus.RUNNING, ExperimentStatus.CREATED):
                break
            if status == ExperimentStatus.CREATED and manager_pid(exp.dir) is None:
                bar.close()
                raise ExperimentError(f"experiment {exp.id}: its manager exited before it started; see "
                                      f"{exp.dir / 'manager.out'}, then: nasctl resume {exp.id}")
            time.sleep(_FOLLOW_EVERY)
    except KeyboardInterrupt:
        bar.close()
        print(f"stopped following; experiment {exp.id} goes on (nasctl stop {exp.id} stops it)", file=sys.stderr)
        return 0
    bar.close()
    return _report_end(exp, status)


# -- update, delete ---------------------------------------------------------------------------------


def _update(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._manager import manager_pid

    exp = _load(args.id)
    limits = exp.update(max_trial_number=args.max_trials, max_experiment_duration=args.max_duration)
    duration = limits["maxExperimentDuration"]
    what = (f"maxTrialNumber {limits['maxTrialNumber'] if limits['maxTrialNumber'] is not None else 'unlimited'}, "
            f"maxExperimentDuration {f'{duration:g}s' if duration is not None else 'unlimited'}")
    if manager_pid(exp.dir) is not None:
        print(f"experiment {exp.id} updated: {what}; the running experiment takes it up within a second",
              file=sys.stderr)
    else:
        print(f"experiment {exp.id} updated: {what}; carry on with: nasctl resume {exp.id}", file=sys.stderr)
    return 0


def _delete(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._manager import manager_pid

    exp = _load(args.id)
    if manager_pid(exp.dir) is not None:
        raise ExperimentError(f"experiment {exp.id} is running; stop it first: nasctl stop {exp.id}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ExperimentError(f"deleting experiment {exp.id} cannot be undone; confirm with --yes")
        trials = len(exp.trials())
        answer = input(f"delete experiment {exp.id} ({trials} trials) in {exp.dir}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    exp.delete()
    print(f"experiment {exp.id} deleted", file=sys.stderr)
    return 0


# -- trial show -------------------------------------------------------------------------------------


def _when(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else None


def trial_report(exp: Any, trial_id: str) -> dict[str, Any]:
    """Everything stored about one trial, with its seed and where its logs are."""
    from nasctl.runtime.manager._local import STDERR_NAME, STDOUT_NAME
    from nasctl.runtime.manager._trial_env import derive_trial_seed

    record = exp.trial(trial_id)
    info = exp.info()
    end = record.end_time or (time.time() if record.status == TrialStatus.RUNNING else None)
    folder = exp.dir / "trials" / trial_id
    last_weights = record.arch_weights[-1] if record.arch_weights else None
    return {
        "experiment": exp.id, "trial_id": record.trial_id, "sequence": record.sequence, "status": record.status,
        "message": record.message, "exit_code": record.exit_code, "value": record.value,
        "parameter_id": record.parameter_id, "parameters": record.parameters,
        "derived_architecture": record.derived_architecture,
        "seed": derive_trial_seed(int(info["seed"]), record.sequence), "gpus": record.gpus,
        "attempts": record.attempts, "started": _when(record.start_time), "ended": _when(record.end_time),
        "duration_s": round(end - record.start_time, 3) if record.start_time and end else None,
        "intermediate": record.intermediate,
        "arch_weights": None if last_weights is None else {
            "reports": len(record.arch_weights), "last_step": last_weights.get("step"),
            "last": last_weights.get("arch_weights")},
        "phases": record.phases if len(record.phases) > 1 else None,
        "logs": {"folder": str(folder), "stdout": str(folder / STDOUT_NAME), "stderr": str(folder / STDERR_NAME)},
        "stderr_tail": record.stderr_tail,
    }


def _trial_show(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._cli import _emit, _value

    report = trial_report(_load(args.id), args.trial_id)
    if args.json:
        _emit(json.dumps(report, indent=2) + "\n")
        return 0
    lines = [f"trial {report['trial_id']} of experiment {report['experiment']} (#{report['sequence']}): "
             f"{report['status']}" + (f" ({report['message']})" if report["message"] else "")]
    duration = report["duration_s"]
    facts = [("value", _value(report["value"])), ("exit code", report["exit_code"]), ("seed", report["seed"]),
             ("GPUs", report["gpus"] or "none"), ("attempts", report["attempts"]),
             ("started", report["started"]), ("ended", report["ended"]),
             ("duration", None if duration is None else f"{duration:.1f}s")]
    lines += [f"  {name + ':':<11} {'-' if value is None else value}" for name, value in facts]
    curve = report["intermediate"]
    lines.append(f"  {'metrics:':<11} {len(curve)} intermediate" + (": " + ", ".join(_value(v) for v in curve[-10:])
                                                                      if curve else ""))
    if len(curve) > 10:
        lines[-1] += f" (the last 10 of {len(curve)})"
    weights = report["arch_weights"]
    if weights is not None:
        lines.append(f"  {'':<11} {weights['reports']} architecture-weight reports (the last at step "
                     f"{weights['last_step']})")
    for title, key in (("parameters", "parameters"), ("derived architecture", "derived_architecture"),
                       ("phases", "phases")):
        if report[key] is not None:
            lines.append(f"{title}:")
            lines += ["  " + line for line in json.dumps(report[key], indent=2).splitlines()]
    lines.append("logs:")
    lines += [f"  {name + ':':<7} {path}" for name, path in report["logs"].items()]
    if report["stderr_tail"]:
        lines.append("stderr (tail):")
        lines += ["  " + line for line in report["stderr_tail"].rstrip().splitlines()]
    _emit("\n".join(lines) + "\n")
    return 0
