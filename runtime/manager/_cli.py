"""`nasctl` commands of the experiment manager: run, create, resume, stop, experiment ..., trial ls/codegen."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._cli_live import register_experiment, register_trial
from nasctl.runtime.manager._kinds import FINISHED_STATUSES, ExperimentStatus, TrialStatus

__all__ = ["register"]


def register(commands: argparse._SubParsersAction, trial_commands: argparse._SubParsersAction) -> None:
    """Add the manager's sub-commands to `nasctl` and to its `trial` group."""
    run = commands.add_parser("run", help="run an experiment in the foreground, with a progress bar")
    run.add_argument("config", metavar="CONFIG", help="experiment YAML file (or a pipeline: config)")
    run.add_argument("--id", help="experiment id (default: a new random one)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)

    create = commands.add_parser("create", help="start an experiment in the background and print its id")
    create.add_argument("--config", required=True, metavar="CONFIG", help="experiment YAML file")
    create.add_argument("--id", help="experiment id (default: a new random one)")
    create.set_defaults(func=_create)

    resume = commands.add_parser("resume", help="carry on with a stopped or interrupted experiment or pipeline")
    resume.add_argument("id", metavar="ID")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    resume.set_defaults(func=_resume)

    stop = commands.add_parser("stop", help="stop a running experiment (it can be resumed)")
    stop.add_argument("id", metavar="ID")
    stop.set_defaults(func=_stop)

    experiment = commands.add_parser("experiment", help="list, show, export, follow, update and delete experiments")
    sub = experiment.add_subparsers(dest="experiment_command", metavar="EXPERIMENT_COMMAND")
    sub.required = True
    listing = sub.add_parser("list", help="the experiments under $NAS_HOME")
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="an experiment's status, best trial and settings")
    show.add_argument("id", metavar="ID")
    show.set_defaults(func=_show)
    export = sub.add_parser(
        "export", help="the trials as JSON or CSV, the best trial's code, or architectures sampled from darts",
        description="Export an experiment's trials (--format), the best trial's code (--code DIR), or K "
                    "architectures drawn from a darts trial's learned distribution (--sample K: a JSON list on "
                    "stdout, or with -o DIR one file per architecture, DIR/arch-0.json ..., each usable as "
                    "`architecture: DIR/arch-0.json` in a retrain config). A darts search with "
                    "complexity.hypernet gives the architecture at budgets (--lambdas 0,0.5,1: DIR/lambda-0.5.json "
                    "...) or the distinct architectures along its frontier (--frontier N: DIR/frontier-0.json ...), "
                    "with their costs in DIR/costs.json.")
    export.add_argument("id", metavar="ID")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write here instead of stdout (with --sample: a folder, one JSON file per architecture)")
    export.add_argument("--code", metavar="DIR", help="write the best trial's code (architecture inlined) here")
    export.add_argument("--sample", type=int, metavar="K",
                        help="draw K architectures from a darts trial's final architecture weights")
    export.add_argument("--trial", metavar="T",
                        help="with --sample, --lambdas or --frontier: the trial whose weights to use (default: the best one that has them)")
    export.add_argument("--seed", type=int, default=0, help="with --sample: the sampling seed (default 0)")
    export.add_argument("--lambdas", metavar="T,T,...",
                        help="darts with complexity.hypernet: the architecture at each normalised complexity "
                             "parameter (0: the low end of darts.complexity.lambda, 1: the high end)")
    export.add_argument("--frontier", type=int, metavar="N",
                        help="darts with complexity.hypernet: the N distinct architectures along alpha(lambda)")
    export.set_defaults(func=_export)
    register_experiment(sub)

    ls = trial_commands.add_parser("ls", help="an experiment's trials")
    ls.add_argument("id", metavar="ID")
    ls.set_defaults(func=_trial_ls)
    codegen = trial_commands.add_parser("codegen", help="a trial's code with its architecture inlined")
    codegen.add_argument("id", metavar="ID")
    codegen.add_argument("--trial_id", "--trial-id", dest="trial_id", required=True, metavar="T")
    codegen.add_argument("-o", "--output", metavar="DIR", help="output directory (default: ./ID-T)")
    codegen.set_defaults(func=_codegen)
    register_trial(trial_commands)


# -- progress ---------------------------------------------------------------------------------------


class _ProgressBar:
    """One line on stderr: done/total, running, failed, best, elapsed (a new line per change off a tty)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last = ""

    def __call__(self, progress: Any) -> None:
        total = progress.total
        width = 24
        if total:
            filled = min(width, int(width * progress.done / total))
            bar = "[" + "#" * filled + "-" * (width - filled) + "] "
            count = f"{progress.done}/{total} done"
        else:
            bar, count = "", f"{progress.done} done"
        best = "-" if progress.best is None else f"{progress.best:.6g}"
        minutes, seconds = divmod(int(progress.elapsed), 60)
        line = (f"{bar}{count}, {progress.running} running, {progress.failed} failed, best {best}"
                f"  [{minutes:02d}:{seconds:02d}]")
        if line == self._last:
            return
        self._last = line
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()


# -- run, create, resume, stop ----------------------------------------------------------------------


def _experiment(args: argparse.Namespace) -> Any:
    from nasctl.runtime.manager._experiment import Experiment

    return Experiment.load(args.id)


def _foreground(exp: Any, no_progress: bool) -> int:
    print(f"experiment {exp.id} in {exp.dir}\n  stop: Ctrl-C (or nasctl stop {exp.id}); "
          f"resume: nasctl resume {exp.id}", file=sys.stderr)
    bar = None if no_progress else _ProgressBar()
    try:
        status = exp.run(progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return _report_end(exp, status)


def _report_end(exp: Any, status: ExperimentStatus) -> int:
    """Print how an experiment ended and its best trial; the exit status of `run`, `resume` and `follow`."""
    info = exp.info()
    best = exp.best()
    if best is not None:
        print(f"best trial {best.trial_id}: value {best.default_value:.6g}", file=sys.stderr)
        if exp.config.use_annotation:
            print(f"  its code: nasctl trial codegen {exp.id} --trial_id {best.trial_id} -o DIR", file=sys.stderr)
    if status == ExperimentStatus.DONE:
        return _done_summary(exp, info)
    if status == ExperimentStatus.STOPPED:
        print(f"experiment {exp.id} stopped; resume with: nasctl resume {exp.id}", file=sys.stderr)
        return 130
    if status == ExperimentStatus.INTERRUPTED:
        print(f"error: experiment {exp.id} was interrupted (its manager is gone); resume with: nasctl resume {exp.id}",
              file=sys.stderr)
        return 1
    print(f"error: experiment {exp.id} failed: {info.get('message')}", file=sys.stderr)
    return 1


def _done_summary(exp: Any, info: dict[str, Any]) -> int:
    """The last line of a finished run; exit status 1 when no trial succeeded."""
    from nasctl.runtime.manager._outcome import failure_summary

    failed, finished, common = failure_summary(exp.trials(), exp.dir)
    failures = f"{failed} of {finished} trials failed, most common error: {common}" if failed else ""
    if not info["counts"][TrialStatus.SUCCEEDED]:
        why = failures or f"{finished} trials finished, none succeeded"
        print(f"error: experiment {exp.id} ended ({info.get('message')}) but no trial succeeded: {why}",
              file=sys.stderr)
        return 1
    print(f"experiment {exp.id} done: {info.get('message')}" + (f"; {failures}" if failures else ""),
          file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._experiment import Experiment
    from nasctl.runtime.manager._pipeline import Pipeline, is_pipeline_config

    if is_pipeline_config(args.config):
        return _run_pipeline(Pipeline.from_yaml(args.config, id=args.id), args.no_progress)
    exp = Experiment.from_yaml(args.config, id=args.id)
    exp.create()
    _say_compiled(exp)
    return _foreground(exp, args.no_progress)


def _say_compiled(exp: Any) -> None:
    if exp.compiled_files:
        print(f"compiled {len(exp.compiled_files)} file(s) with annotations from "
              f"{exp.config.trial_code_directory}: {', '.join(exp.compiled_files)}", file=sys.stderr)


def _resume(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._pipeline import Pipeline, is_pipeline

    if is_pipeline(args.id):
        return _run_pipeline(Pipeline.load(args.id), args.no_progress)
    return _foreground(_experiment(args), args.no_progress)


def _run_pipeline(pipeline: Any, no_progress: bool) -> int:
    """Run a pipeline's stages in the foreground (`pipeline:` configs; see `_pipeline.py`)."""
    print(f"pipeline {pipeline.id} in {pipeline.dir}\n  stop: Ctrl-C; resume: nasctl resume {pipeline.id}",
          file=sys.stderr)
    bars: list[_ProgressBar] = []

    def progress(stage: str, exp: Any) -> Any:
        for bar in bars:
            bar.close()
        bars.clear()
        print(f"stage {stage}", file=sys.stderr)
        if no_progress:
            return None
        bars.append(_ProgressBar())
        return bars[-1]

    try:
        status = pipeline.run(progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if status == ExperimentStatus.DONE:
        return 0
    message = pipeline.record.get("message")
    if ExperimentStatus(status).resumable:
        print(f"pipeline {pipeline.id} stopped ({message}); resume with: nasctl resume {pipeline.id}", file=sys.stderr)
        return 130
    print(f"error: pipeline {pipeline.id} failed: {message}", file=sys.stderr)
    return 1


def _create(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._experiment import Experiment
    from nasctl.runtime.manager._manager import manager_pid

    exp = Experiment.from_yaml(args.config, id=args.id)
    exp.create()
    _say_compiled(exp)
    env = dict(os.environ, NAS_HOME=str(exp.home))
    with open(exp.dir / "manager.out", "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "resume", exp.id, "--no-progress"],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                   start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 30
    while manager_pid(exp.dir) is None:
        if process.poll() is not None:
            tail = (exp.dir / "manager.out").read_text(errors="replace").strip().splitlines()[-5:]
            raise ExperimentError(f"experiment {exp.id}: the background manager exited at once:\n" + "\n".join(tail))
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    print(exp.id)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._manager import manager_pid

    exp = _experiment(args)
    pid = manager_pid(exp.dir)
    if pid is None:
        raise ExperimentError(f"experiment {exp.id} is not running (status {exp.status})")
    if pid > 0:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 120
    while manager_pid(exp.dir) is not None:
        if time.monotonic() > deadline:
            raise ExperimentError(f"experiment {exp.id}: the manager (pid {pid}) did not stop within 120 s")
        time.sleep(0.05)
    print(f"experiment {exp.id} stopped; resume with: nasctl resume {exp.id}", file=sys.stderr)
    return 0


# -- reading ----------------------------------------------------------------------------------------


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("default")
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def _emit(text: str) -> None:
    """Write to stdout; a reader that went away (`| head`) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    _emit("".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
                  for row in rows))


def _list(args: argparse.Namespace) -> int:
    from nasctl.runtime.manager._experiment import Experiment, experiment_ids, nas_home

    rows = [["ID", "NAME", "STATUS", "TRIALS", "BEST", "CREATED"]]
    for exp_id in experiment_ids():
        try:
            exp = Experiment.load(exp_id)
            info = exp.info()
        except Exception as error:  # one broken folder must not hide the others
            rows.append([exp_id, "-", f"UNREADABLE ({type(error).__name__})", "-", "-", "-"])
            continue
        counts = info["counts"]
        finished = sum(counts[s] for s in FINISHED_STATUSES)
        total = exp.config.max_trial_number
        best = exp.best()
        rows.append([exp_id, info.get("name") or "-", info["status"],
                     f"{finished}/{total}" if total else str(finished),
                     _value(best.value) if best else "-", _when(info.get("created"))])
    if len(rows) == 1:
        print(f"no experiments in {nas_home()}", file=sys.stderr)
        return 0
    _table(rows)
    return 0


def _show(args: argparse.Namespace) -> int:
    exp = _experiment(args)
    info = exp.info()
    best = exp.best()
    summary = {
        "id": exp.id,
        "name": info.get("name"),
        "status": info["status"],
        "message": info.get("message"),
        "folder": str(exp.dir),
        "config": info.get("source"),
        "nasMode": exp.config.nas_mode,
        "tuner": exp.config.tuner.name if exp.config.tuner else None,
        "assessor": exp.config.assessor.name if exp.config.assessor else None,
        "seed": info.get("seed"),
        "trials": info["counts"],
        "maxTrialNumber": exp.config.max_trial_number,
        "elapsed_s": round(info["elapsed"], 1),
        "search_space_keys": len(info.get("search_space") or {}),
        "best": None if best is None else {"trial_id": best.trial_id, "value": best.value,
                                           "parameters": best.derived_architecture or _sampled(exp, best)},
    }
    retrain = exp.retrain_architecture()
    if retrain is not None:
        summary["architecture"] = retrain
    _emit(json.dumps(summary, indent=2) + "\n")
    return 0


def _sampled(exp: Any, record: Any) -> dict[str, Any] | None:
    """A trial's parameters without the blocks its enas/oneshot/darts supernet chose itself."""
    ignored = exp.supernet_keys()
    if record.parameters is None or not ignored:
        return record.parameters
    return {key: value for key, value in record.parameters.items() if key not in ignored}


def _csv(records: list[dict[str, Any]], ignored: frozenset[str] = frozenset()) -> str:
    """The trials as CSV; with `ignored` (the blocks an enas/oneshot/darts trial chose itself) those
    keys' sampled values are left out and a `derived_architecture` column shows what it derived."""
    keys: list[str] = []
    for record in records:
        for key in (record["parameters"] or {}):
            if key not in keys and key not in ignored:
                keys.append(key)
    derived = ["derived_architecture"] if ignored else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trial_id", "sequence", "status", "parameter_id", "value", "exit_code", "start_time",
                     "end_time", "intermediate_count", *keys, *derived, "stderr_tail"])
    for record in records:
        params = record["parameters"] or {}
        if ignored:
            found = record.get("derived_architecture")
            derived = [json.dumps(found, separators=(",", ":")) if found is not None else ""]
        cells = [json.dumps(params[key]) if key in params and not isinstance(params[key], int | float | str)
                 else params.get(key, "") for key in keys]
        value = record["value"]
        writer.writerow([record["trial_id"], record["sequence"], record["status"], record["parameter_id"],
                         json.dumps(value) if isinstance(value, dict) else ("" if value is None else value),
                         "" if record["exit_code"] is None else record["exit_code"],
                         _when(record["start_time"]), _when(record["end_time"]), len(record["intermediate"]),
                         *cells, *derived, record["stderr_tail"] or ""])
    return out.getvalue()


def _json_array(records: list[dict[str, Any]]) -> str:
    """`records` as a JSON array, one record per line (C encoder: `indent` would make it pure Python)."""
    if not records:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n"


def _export(args: argparse.Namespace) -> int:
    exp = _experiment(args)
    if args.lambdas is not None or args.frontier is not None:
        return _export_budgets(exp, args)
    if args.sample is not None:
        return _export_samples(exp, args)
    if args.trial is not None:
        raise ExperimentError("--trial selects the trial of --sample, --lambdas or --frontier; give one of them too")
    if args.code:
        best = exp.best()
        if best is None:
            raise ExperimentError(f"experiment {exp.id} has no succeeded trial with a value to export")
        out = exp.codegen(best.trial_id, args.code)
        print(f"best trial {best.trial_id} (value {_value(best.value)}): code written to {out}", file=sys.stderr)
        if not args.output:
            return 0
    records = [record.to_dict() for record in exp.trials()]
    text = _json_array(records) if args.format == "json" else _csv(records, exp.supernet_keys())
    if args.output:
        _output_path(args.output, folder=False).write_text(text, encoding="utf-8")
    else:
        _emit(text)
    return 0


def _architecture_folder(output: str, option: str) -> Path:
    """`-o` as the folder for one file per architecture (with `option`): new or empty, then made."""
    folder = _output_path(output, folder=True)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ExperimentError(f"-o {folder}: with {option}, -o is a folder for one file per architecture, "
                              "and it must be new or empty")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _export_samples(exp: Any, args: argparse.Namespace) -> int:
    if args.code:
        raise ExperimentError("--sample and --code export different things; give one of them")
    trial_id, samples = exp.sample_architectures(args.sample, trial_id=args.trial, seed=args.seed)
    if not args.output:
        _emit(json.dumps(samples, indent=2) + "\n")
    else:
        folder = _architecture_folder(args.output, "--sample")
        width = len(str(len(samples) - 1))
        for index, sample in enumerate(samples):
            (folder / f"arch-{index:0{width}d}.json").write_text(json.dumps(sample, indent=2) + "\n",
                                                                  encoding="utf-8")
    where = f" to {args.output}" if args.output else ""
    print(f"{len(samples)} architectures sampled from trial {trial_id} of experiment {exp.id}{where}",
          file=sys.stderr)
    return 0


def _output_path(value: str, *, folder: bool) -> Path:
    """An `-o` path checked before anything is written: its parent is an existing folder, and it is
    a folder (or new) when `folder`, a file (or new) otherwise."""
    path = Path(value)
    parent = path.parent
    if not parent.is_dir():
        why = "is not a folder" if parent.exists() else "does not exist"
        raise ExperimentError(f"-o {value}: {parent} {why}; create the folder first or choose another path")
    if folder and path.exists() and not path.is_dir():
        raise ExperimentError(f"-o {value}: is a file, expected a folder")
    if not folder and path.is_dir():
        raise ExperimentError(f"-o {value}: is a folder, expected a file name")
    return path


def _lambdas(text: str) -> list[float]:
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise ExperimentError(f"--lambdas: {item.strip()!r} is not a normalised lambda, a number in [0, 1] "
                                  "(0: the low end of darts.complexity.lambda, 1: the high end)")
        values.append(value)
    return values


def _export_budgets(exp: Any, args: argparse.Namespace) -> int:
    """`--lambdas` / `--frontier`: architectures of a darts hypernet search at given budgets."""
    from nasctl.runtime.modes._hypernet import derive, frontier

    given = [name for name, value in (("--lambdas", args.lambdas), ("--frontier", args.frontier),
                                      ("--sample", args.sample), ("--code", args.code)) if value is not None]
    if len(given) > 1:
        raise ExperimentError(f"{given[0]} and {given[1]} export different things; give one of them")
    trial_id, state = exp.hypernet_state(args.trial)
    if args.lambdas is not None:
        found = [derive(state, t) for t in _lambdas(args.lambdas)]
        names = [f"lambda-{d.t:g}.json" for d in found]
    else:
        found = frontier(state, args.frontier)
        width = len(str(len(found) - 1))
        names = [f"frontier-{i:0{width}d}.json" for i in range(len(found))]
    records = [{"file": name, **d.summary(), "architecture": d.architecture}
               for name, d in zip(names, found, strict=True)]
    if not args.output:
        _emit(json.dumps(records, indent=2) + "\n")
    else:
        folder = _architecture_folder(args.output, "--lambdas/--frontier")
        for name, d in zip(names, found, strict=True):
            (folder / name).write_text(json.dumps(d.architecture, indent=2) + "\n", encoding="utf-8")
        costs = [{key: value for key, value in record.items() if key != "architecture"} for record in records]
        (folder / "costs.json").write_text(json.dumps(costs, indent=2) + "\n", encoding="utf-8")
    metric = str(state.get("metric", "params"))
    other = metric != "params"  # the cost column, when the search penalised another metric than params
    rows = [["FILE", "LAMBDA (0-1)", "LAMBDA", f"E[{metric}]", *([metric.upper()] if other else []), "PARAMS"]]
    rows += [[name, f"{d.t:g}", f"{d.lam:.4g}", f"{d.expected_cost:.6g}", *([f"{d.cost:.6g}"] if other else []),
              f"{d.params:.6g}"] for name, d in zip(names, found, strict=True)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=sys.stderr)
    distinct = len({json.dumps(d.architecture, sort_keys=True) for d in found})
    where = f" to {args.output}" if args.output else ""
    print(f"{len(found)} architectures ({distinct} distinct) from alpha(lambda) of trial {trial_id} of experiment "
          f"{exp.id}{where}", file=sys.stderr)
    return 0


def _trial_ls(args: argparse.Namespace) -> int:
    exp = _experiment(args)
    # enas/oneshot/darts: the trial's own derived architecture, not the tuner's sample it ignored
    ignored = exp.supernet_keys()
    rows = [["TRIAL", "#", "STATUS", "VALUE", "LATEST", "EXIT", "DURATION", *(["DERIVED"] if ignored else []),
             "PARAMETERS / ERROR"]]
    now = time.time()
    for t in exp.trials():
        end = t.end_time or (now if t.status == TrialStatus.RUNNING else None)  # a running trial: time so far
        duration = f"{end - t.start_time:.1f}s" if t.start_time and end else "-"
        latest = f"{_value(t.intermediate[-1])} (#{len(t.intermediate)})" if t.intermediate else "-"
        parameters = t.parameters
        if parameters is not None and ignored:
            parameters = {key: value for key, value in parameters.items() if key not in ignored}
        detail = json.dumps(parameters, separators=(",", ":")) if parameters is not None else "-"
        if t.status.failed:
            last = (t.stderr_tail or "").strip().splitlines()
            detail = f"{t.message or ''}: {last[-1] if last else '(no stderr)'}"
        if len(detail) > 100:
            detail = detail[:97] + "..."
        derived = []
        if ignored:
            text = json.dumps(t.derived_architecture, separators=(",", ":")) if t.derived_architecture else "none"
            derived = [text if len(text) <= 60 else text[:57] + "..."]
        rows.append([t.trial_id, str(t.sequence), t.status, _value(t.value), latest,
                     "-" if t.exit_code is None else str(t.exit_code), duration, *derived, detail])
    _table(rows)
    return 0


def _codegen(args: argparse.Namespace) -> int:
    exp = _experiment(args)
    out = _output_path(args.output, folder=True) if args.output else Path.cwd() / f"{exp.id}-{args.trial_id}"
    exp.codegen(args.trial_id, out)
    print(f"trial {args.trial_id}: code written to {out}; run it there with: {exp.config.trial_command}",
          file=sys.stderr)
    return 0
