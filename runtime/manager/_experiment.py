"""`Experiment`: create, run, resume and read an experiment from Python (and from `nasctl`).

>>> exp = Experiment.from_yaml("examples/mnist-nas/config.yml")     # doctest: +SKIP
>>> exp.run()                                                       # doctest: +SKIP
'DONE'
>>> exp.best().parameters                                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ConfigError, ExperimentError, NasError
from nasctl.runtime.manager._config import ExperimentConfig, load_config
from nasctl.runtime.manager._kinds import ExperimentStatus, TrialStatus
from nasctl.runtime.manager._manager import Manager, Progress, manager_pid
from nasctl.runtime.manager._storage import DB_NAME, Storage, TrialRecord

__all__ = ["Experiment", "nas_home", "experiment_ids", "best_trial"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def nas_home(override: str | Path | None = None) -> Path:
    """Where experiments live: `override`, else $NAS_HOME, else ~/nas-experiments."""
    if override is not None:
        return Path(override).expanduser()
    return Path(os.environ.get("NAS_HOME") or "~/nas-experiments").expanduser()


_default_home = nas_home


def experiment_ids(home: str | Path | None = None) -> list[str]:
    """Ids of the experiments under `home`, oldest first."""
    root = nas_home(home)
    if not root.is_dir():
        return []
    found = [entry for entry in root.iterdir() if (entry / DB_NAME).is_file()]
    return [entry.name for entry in sorted(found, key=lambda e: (e / DB_NAME).stat().st_mtime)]


class Experiment:
    """An experiment: its config, its folder `<NAS_HOME>/<id>/` and its database.

    `Experiment(config_dict)` or `Experiment.from_yaml(path)` makes a new one (created on disk by
    `create()` or `run()`); `Experiment.load(id)` opens a stored one, to resume or read it.
    """

    def __init__(self, config: dict[str, Any] | ExperimentConfig, *, id: str | None = None,
                 nas_home: str | Path | None = None, base_dir: str | Path | None = None) -> None:
        if not isinstance(config, ExperimentConfig):
            config = ExperimentConfig.from_dict(config, base_dir=base_dir)
        self.config = config
        if id is not None and not _ID.match(id):
            raise ExperimentError(f"invalid experiment id {id!r}: use letters, digits, '-', '_' and '.' "
                                  "(at most 64, starting with a letter or digit)")
        self.home = _home_for(config, nas_home)
        self.id = id or _new_id(self.home)
        self.dir = self.home / self.id
        self._exists = False
        self.compiled_files: list[str] = []  # files with annotations that create() compiled

    @classmethod
    def from_yaml(cls, path: str | Path, *, id: str | None = None,
                  nas_home: str | Path | None = None) -> Experiment:
        """A new experiment from a YAML config file (relative paths are relative to that file)."""
        return cls(load_config(path), id=id, nas_home=nas_home)

    @classmethod
    def load(cls, id: str, *, nas_home: str | Path | None = None) -> Experiment:
        """The stored experiment `id`."""
        home = _default_home(nas_home)
        folder = home / id
        if not _ID.match(id) or not (folder / DB_NAME).is_file():
            raise ExperimentError(f"no experiment {id!r} in {home} (see nasctl experiment list; "
                                  "NAS_HOME selects the folder)")
        storage = Storage(folder / DB_NAME, readonly=True)
        try:
            document = storage.meta("config")
            base = storage.meta("base_dir")
        finally:
            storage.close()
        self = cls.__new__(cls)
        self.config = ExperimentConfig.from_dict(document, base_dir=base, stored=True)
        self.home = home
        self.id = id
        self.dir = folder
        self._exists = True
        self.compiled_files = []
        return self

    # -- creating and running -------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.dir / DB_NAME

    def create(self) -> None:
        """Create the experiment on disk: folder, database, compiled code and search space."""
        if self._exists:
            return
        if self.dir.exists():
            raise ExperimentError(f"experiment {self.id!r} already exists in {self.home}; "
                                  f"resume it with: nasctl resume {self.id}")
        if self.config.assessor is not None:  # a bad name or classArgs: refused before anything exists
            from nasctl.runtime.manager._assessor import build_assessor

            tuner_args = self.config.tuner.class_args if self.config.tuner else {}
            build_assessor(self.config.assessor, tuner_args.get("optimize_mode", "maximize"))
        self.home.mkdir(parents=True, exist_ok=True)
        self.dir.mkdir(mode=0o700)
        try:
            self._create_contents()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self._exists = True

    def _create_contents(self) -> None:
        from nasctl import schemas

        config = self.config
        code_dir = config.trial_code_directory
        if config.use_annotation:
            from nasctl import annotator

            code_dir = self.dir / "code"
            compiled: list[Path] = []
            search_space = annotator.expand_annotations(config.trial_code_directory, code_dir, config.nas_mode,
                                                        key_style=config.key_style, compiled=compiled,
                                                        link_environments=True)
            self.compiled_files = [str(path) for path in compiled]
            if not search_space and config.tuner is not None:
                raise ExperimentError(f"useAnnotation: no @nas annotations found in {config.trial_code_directory}")
        elif config.search_space_file is not None:
            try:
                search_space = json.loads(config.search_space_file.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise ExperimentError(f"{config.search_space_file}:{error.lineno}: invalid JSON: {error.msg}") from None
            except UnicodeDecodeError as error:
                raise ExperimentError(f"{config.search_space_file}: not UTF-8 text ({error.reason} at byte "
                                      f"{error.start}); save the file as UTF-8") from None
            except RecursionError:
                raise ExperimentError(f"{config.search_space_file}: the JSON is nested too deeply") from None
            schemas.validate("search_space", search_space, source=str(config.search_space_file))
        else:
            search_space = config.search_space or {}
            schemas.validate("search_space", search_space, source="searchSpace")
        architecture = None
        if config.architecture is not None:
            from nasctl.runtime.manager._retrain import resolve_architecture

            architecture = resolve_architecture(config.architecture, search_space, [self.home, nas_home()])
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        _check_tuner(config, search_space, seed, architecture)
        class_args = config.tuner.class_args if config.tuner else {}
        storage = Storage(self.db_path, create=True)
        try:
            storage.set_meta(
                id=self.id, name=config.name, config=config.document,
                source=str(Path(config.source).resolve()) if config.source else None,
                base_dir=str(Path(config.source).resolve().parent) if config.source else str(Path.cwd()),
                search_space=search_space, seed=seed, code_dir=str(code_dir), created=time.time(),
                optimize_mode=class_args.get("optimize_mode", "maximize"), status=ExperimentStatus.CREATED, message=None, pid=None,
                architecture=architecture,
                architecture_source=config.architecture.describe() if config.architecture is not None else None)
        finally:
            storage.close()

    def run(self, *, progress: Callable[[Progress], None] | None = None,
            grace_period: float = 5.0) -> ExperimentStatus:
        """Run (or resume) the experiment in this process until it ends; returns DONE, STOPPED or FAILED.

        SIGINT/SIGTERM stop it cleanly; running trials are then run again by the next `run()`.
        """
        self.create()
        storage = Storage(self.db_path)
        try:
            return Manager(self.dir, storage, self.config, on_progress=progress, grace_period=grace_period).run()
        finally:
            storage.close()

    # -- changing a stored experiment -----------------------------------------------------------------

    def update(self, *, max_trial_number: int | None = None,
               max_experiment_duration: float | str | None = None) -> dict[str, Any]:
        """Change the trial and time budgets of a stored experiment, stopped or running.

        A running manager takes the change up within a second; a stopped one on `nasctl resume`.
        Returns the new `{"maxTrialNumber", "maxExperimentDuration"}` (seconds, or None for no limit).
        """
        from nasctl.runtime.manager._config import parse_duration

        if max_trial_number is None and max_experiment_duration is None:
            raise ExperimentError("nothing to update: give --max-trials N and/or --max-duration D")
        if max_trial_number is not None and (isinstance(max_trial_number, bool)
                                             or not isinstance(max_trial_number, int) or max_trial_number < 1):
            raise ExperimentError(f"--max-trials: a number of trials is a positive integer, got {max_trial_number!r}")
        if max_experiment_duration is not None:
            parse_duration(max_experiment_duration, "--max-duration")
        if not self.db_path.is_file():
            raise ExperimentError(f"experiment {self.id!r} has not been created yet (call run() or create())")
        storage = Storage(self.db_path)
        try:
            with storage.transaction() as db:  # read-modify-write of the document, against a concurrent update
                row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
                document = json.loads(row[0])
                if max_trial_number is not None:
                    document["maxTrialNumber"] = max_trial_number
                if max_experiment_duration is not None:
                    document["maxExperimentDuration"] = max_experiment_duration
                db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(document),))
        finally:
            storage.close()
        self.config = ExperimentConfig.from_dict(document, base_dir=self.info().get("base_dir"))
        return {"maxTrialNumber": self.config.max_trial_number,
                "maxExperimentDuration": self.config.max_experiment_duration}

    def delete(self) -> None:
        """Delete a stored experiment that is not running: its folder, database, trials and logs."""
        if manager_pid(self.dir) is not None:
            raise ExperimentError(f"experiment {self.id} is running; stop it first: nasctl stop {self.id}")
        if not self.db_path.is_file():
            raise ExperimentError(f"no experiment {self.id!r} in {self.home}")
        shutil.rmtree(self.dir)
        self._exists = False

    # -- reading --------------------------------------------------------------------------------------

    def _read(self) -> Storage:
        if not self.db_path.is_file():
            raise ExperimentError(f"experiment {self.id!r} has not been created yet (call run() or create())")
        return Storage(self.db_path, readonly=True)

    def info(self) -> dict[str, Any]:
        """The stored metadata (status, seed, search space, config, ...) and trial counts."""
        storage = self._read()
        try:
            meta = storage.all_meta()
            meta["counts"] = storage.counts()
            meta["elapsed"] = storage.elapsed()
        finally:
            storage.close()
        meta["status"] = ExperimentStatus(meta["status"])
        if meta["status"] == ExperimentStatus.RUNNING and manager_pid(self.dir) is None:
            meta["status"] = ExperimentStatus.INTERRUPTED
        return meta

    @property
    def status(self) -> ExperimentStatus:
        """CREATED, RUNNING, DONE, STOPPED, FAILED, INTERRUPTED (its manager was killed), or NEW (not created)."""
        return self.info()["status"] if self.db_path.is_file() else ExperimentStatus.NEW

    def trials(self) -> list[TrialRecord]:
        """Every trial, in the order they were created."""
        if not self.db_path.is_file():
            return []
        storage = self._read()
        try:
            return storage.trials()
        finally:
            storage.close()

    def trial(self, trial_id: str) -> TrialRecord:
        for record in self.trials():
            if record.trial_id == trial_id:
                return record
        raise ExperimentError(f"experiment {self.id}: no trial {trial_id!r} (see nasctl trial ls {self.id})")

    def best(self) -> TrialRecord | None:
        """The succeeded trial with the best final value (by the tuner's optimize_mode), or None."""
        return best_trial(self.trials(), self.info().get("optimize_mode", "maximize"))

    def supernet_keys(self) -> frozenset[str]:
        """The `mutable_layer` blocks whose choice in a trial's parameters the mode ignored: in enas,
        oneshot and darts the trial trains every candidate and derives its own architecture."""
        if self.config.nas_mode == "classic":
            return frozenset()
        space = self.info().get("search_space") or {}
        return frozenset(key for key, entry in space.items()
                         if isinstance(entry, dict) and entry.get("_type") == "mutable_layer")

    def trial_architecture(self, trial_id: str) -> dict[str, Any]:
        """The architecture to inline for a trial: its parameters, with its derived architecture
        (enas/oneshot/darts) over them, so the variables a one-shot trial was given stay in.

        In enas/oneshot/darts, a trial that derived no architecture has none to inline: the tuner's
        sample of its layers was not what it trained (an ExperimentError says how to derive one).
        """
        record = self.trial(trial_id)
        if record.parameters is None and record.derived_architecture is None:
            raise ExperimentError(f"trial {trial_id} has no parameters yet")
        ignored = self.supernet_keys()
        if ignored and record.derived_architecture is None:
            mode = self.config.nas_mode
            how = ("to derive one, call nas.derive_architecture(evaluate) after training (the annotation "
                   "@nas.derive_architecture(evaluate) does the same): it ranks subnets of the trained supernet "
                   "with evaluate() and reports the best" if mode == "oneshot"
                   else f"a {mode} trial reports it when it ends; this one ended {record.status}")
            raise ExperimentError(
                f"trial {trial_id} ({mode} mode) derived no architecture, so there is none to export (the tuner's "
                f"sample of its layers is not what the {mode} supernet trained); {how}")
        # Blocks the trial did not run (another script of the directory) keep their sampled choice.
        return {**(record.parameters or {}), **(record.derived_architecture or {})}

    def retrain_architecture(self) -> dict[str, Any] | None:
        """A retrain's fixed architecture and where it came from, or None for other experiments."""
        info = self.info()
        if info.get("architecture") is None:
            return None
        return {"source": info.get("architecture_source"), "architecture": info["architecture"]}

    def sample_architectures(self, count: int, *, trial_id: str | None = None,
                             seed: int | None = 0) -> tuple[str, list[dict[str, Any]]]:
        """`count` architectures drawn from a darts trial's last reported architecture weights.

        The trial is `trial_id`, else the best succeeded trial that reported weights, else the last
        one that did. Returns `(trial_id, architectures)`; only the `mutable_layer` blocks are drawn
        (a retrain tunes the rest). Same `seed`, same draws.
        """
        from nasctl.runtime.modes._derive import sample_architectures

        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ExperimentError(f"--sample: the number of architectures must be a positive integer, got {count!r}")
        records = self.trials()
        weighted = {t.trial_id: weights for t in records if (weights := _last_arch_weights(t)) is not None}
        if trial_id is not None:
            record = self.trial(trial_id)
            if record.trial_id not in weighted:
                raise ExperimentError(
                    f"experiment {self.id}: trial {trial_id} reported no architecture weights (arch_weights metrics; "
                    f"status {record.status}), so there is no distribution to sample")
            chosen = trial_id
        else:
            if not weighted:
                raise ExperimentError(
                    f"experiment {self.id} ({self.config.nas_mode} mode) has no trial that reported architecture "
                    "weights: --sample needs a darts experiment (plain or gumbel) whose trials report arch_weights "
                    "(darts: report_every > 0)")
            best = self.best()
            chosen = best.trial_id if best is not None and best.trial_id in weighted else list(weighted)[-1]
        space = self.info().get("search_space") or {}
        return chosen, sample_architectures(weighted[chosen], space, count, seed)

    def hypernet_state(self, trial_id: str | None = None) -> tuple[str, dict[str, Any]]:
        """The last alpha(lambda) a darts trial with `complexity.hypernet` reported (`_hypernet.py`).

        The trial is `trial_id`, else the best succeeded trial that reported one, else the last one
        that did. Returns `(trial_id, state)`.
        """
        states = {t.trial_id: state for t in self.trials() if (state := _last_hypernet(t)) is not None}
        if trial_id is not None:
            record = self.trial(trial_id)
            if record.trial_id not in states:
                raise ExperimentError(
                    f"experiment {self.id}: trial {trial_id} reported no alpha(lambda) (status {record.status}); "
                    "--lambdas/--frontier need a darts trial with complexity.hypernet and report_every > 0")
            return trial_id, states[trial_id]
        if not states:
            raise ExperimentError(
                f"experiment {self.id} ({self.config.nas_mode} mode) has no trial that reported alpha(lambda): "
                "--lambdas/--frontier need a darts experiment with darts.complexity.hypernet (and report_every > 0)")
        best = self.best()
        chosen = best.trial_id if best is not None and best.trial_id in states else list(states)[-1]
        return chosen, states[chosen]

    def codegen(self, trial_id: str, out_dir: str | Path) -> Path:
        """Write a trial's code with its architecture inlined: plain Python that runs without nasctl."""
        from nasctl import annotator

        if not self.config.use_annotation:
            raise ExperimentError(f"experiment {self.id} does not use annotations (useAnnotation: false), "
                                  "so there is nothing to inline; the trial's parameters are in "
                                  f"nasctl experiment export {self.id}")
        out = Path(out_dir)
        if out.exists() and any(out.iterdir()):
            raise ExperimentError(f"output directory {out} is not empty")
        annotator.inline_architecture(self.config.trial_code_directory, out, self.trial_architecture(trial_id),
                                      key_style=self.config.key_style)
        return out


def _check_tuner(config: ExperimentConfig, search_space: dict[str, Any], seed: int,
                 architecture: dict[str, Any] | None) -> None:
    """Build the tuner as the manager will and give it the search space, so that a bad tuner name,
    bad classArgs or a search space the tuner cannot take is an error before the experiment exists."""
    from nasctl.runtime.manager._tuner import create_tuner
    from nasctl.tuners import SearchSpace, TunerError

    source = config.source
    try:
        SearchSpace(search_space)  # the ranges, whatever the tuner checks itself
    except TunerError as error:
        raise ConfigError(str(error), path=source) from None
    try:
        tuner = create_tuner(config.tuner, seed, mode=config.nas_mode, fixed=architecture)
    except NasError:
        raise
    except TunerError as error:
        raise ConfigError(str(error), key="tuner", path=source) from None
    except Exception as error:  # a custom tuner's constructor
        raise ConfigError(f"constructing the tuner failed: {type(error).__name__}: {error}",
                          key="tuner", path=source) from None
    try:
        tuner.update_search_space(search_space)
    except NasError:
        raise
    except TunerError as error:
        raise ConfigError(str(error), path=source) from None
    except Exception as error:
        raise ConfigError(f"the tuner's update_search_space failed: {type(error).__name__}: {error}",
                          key="tuner", path=source) from None


def best_trial(records: list[TrialRecord], optimize_mode: str) -> TrialRecord | None:
    """The succeeded trial of `records` with the best final value, or None."""
    scored = [t for t in records if t.status == TrialStatus.SUCCEEDED and t.default_value is not None]
    if not scored:
        return None
    pick = min if optimize_mode == "minimize" else max
    return pick(scored, key=lambda t: t.default_value)


def _last_arch_weights(record: TrialRecord) -> dict[str, Any] | None:
    """The last `arch_weights` a darts trial reported (in intermediate results, in older databases)."""
    for value in reversed([*record.intermediate, *record.arch_weights]):
        if isinstance(value, dict) and isinstance(value.get("arch_weights"), dict) and value["arch_weights"]:
            return value["arch_weights"]
    return None


def _last_hypernet(record: TrialRecord) -> dict[str, Any] | None:
    """The last alpha(lambda) state (`"hypernet"` in its `arch_weights` metrics) a darts trial reported."""
    for value in reversed(record.arch_weights):
        if isinstance(value, dict) and isinstance(value.get("hypernet"), dict):
            return value["hypernet"]
    return None


def _home_for(config: ExperimentConfig, override: str | Path | None) -> Path:
    if override is not None:
        return nas_home(override)
    if config.working_directory is not None:
        return config.working_directory
    return nas_home()


def _new_id(home: Path) -> str:
    while True:
        candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
        if not (home / candidate).exists():
            return candidate
