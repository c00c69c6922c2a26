"""Pipelines: search -> sample K architectures -> retrain each (a tuner over what is left) -> pick on validation.

A pipeline is a chain of ordinary experiments, started by one config and resumable like any of them:

```yaml
pipeline:
  name: dnas-ctr-emb-dim
  search: search.yml            # a darts experiment (a file, relative to this one, or an inline mapping)
  sample: {count: 4, seed: 0}   # K architectures drawn from the search's learned distribution
  retrain: retrain.yml          # a classic experiment; each sample becomes its `architecture:`
  select: val_log_loss          # the key of the retrain trials' final result that picks the best
  optimize_mode: minimize       # (default: the retrain tuner's optimize_mode)
  columns: [params, flops, val_log_loss, test_log_loss, test_auc]   # the final table (default: every key)
```

`nasctl run pipeline.yml --id P` creates `$NAS_HOME/P/` (the pipeline's record, `pipeline.json`, the
sampled architectures `samples/arch-<k>.json` and the final table `results.json` / `results.csv`) and
runs the stages as experiments `P-search`, `P-retrain-0`, ... in the same `$NAS_HOME`, each stored and
exported as usual (`nasctl experiment export P-retrain-0`). Identical samples are retrained once.
`nasctl resume P` carries on after a kill or Ctrl-C: a finished stage is kept, an interrupted one is
resumed (its finished trials stay), a missing one is created. The samples are drawn with a fixed seed
from the search's stored weights, so drawing them again gives the same files.

The final table has one row per retrained architecture (its best trial on `select`) and marks the
winner, the best on validation; its test figures are the pipeline's result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ConfigError, ExperimentError
from nasctl.runtime.manager._config import ExperimentConfig
from nasctl.runtime.manager._experiment import _ID, Experiment, _new_id, nas_home
from nasctl.runtime.manager._kinds import ExperimentStatus, TrialStatus
from nasctl.runtime.manager._storage import DB_NAME, TrialRecord

__all__ = ["PIPELINE_FILE", "Pipeline", "is_pipeline", "is_pipeline_config"]

PIPELINE_FILE = "pipeline.json"
_KEYS = {"name", "search", "sample", "retrain", "select", "optimize_mode", "columns"}


def is_pipeline_config(path: str | Path) -> bool:
    """Whether the YAML file `path` is a pipeline (a mapping with a top-level `pipeline:` key)."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # load_config reports it, as for any experiment config
    return isinstance(document, dict) and "pipeline" in document


def is_pipeline(id: str, home: str | Path | None = None) -> bool:
    """Whether `id` names a stored pipeline under `home` ($NAS_HOME by default)."""
    return bool(_ID.match(id)) and (nas_home(home) / id / PIPELINE_FILE).is_file()


def _read_yaml(path: Path, key: str) -> dict[str, Any]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"file {path} does not exist", key=key) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}", key=key) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} is not a YAML mapping of keys to values", key=key)
    return document


def _stage_document(value: Any, base: Path, key: str, source: str) -> dict[str, Any]:
    """A stage's experiment config, normalised (absolute paths), from a file name or an inline mapping."""
    if isinstance(value, str):
        path = (base / value).expanduser().resolve()
        document, stage_base, where = _read_yaml(path, f"pipeline.{key}"), path.parent, str(path)
    elif isinstance(value, dict):
        document, stage_base, where = value, base, source
    else:
        raise ConfigError("expected an experiment config file (a path) or an inline mapping", f"pipeline.{key}", source)
    try:
        config = ExperimentConfig.from_dict(document, base_dir=stage_base, source=where)
    except ConfigError as error:
        raise ConfigError(f"the {key} stage: {error}", f"pipeline.{key}", source) from None
    return dict(config.document)


class Pipeline:
    """One stored pipeline: its record in `<NAS_HOME>/<id>/pipeline.json` and its stage experiments."""

    def __init__(self, record: dict[str, Any], home: Path) -> None:
        self.record = record
        self.home = home
        self.id: str = record["id"]
        self.dir = home / self.id

    # -- creating and loading -------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path, *, id: str | None = None, nas_home_dir: str | Path | None = None) -> Pipeline:
        """A new pipeline from a YAML file with a `pipeline:` mapping; errors name the key."""
        path = Path(path)
        source = str(path)
        spec = _read_yaml(path, "pipeline").get("pipeline")
        if not isinstance(spec, dict):
            raise ConfigError("expected a mapping with search, sample, retrain and select", "pipeline", source)
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(_KEYS))})", f"pipeline.{unknown[0]}", source)
        for key in ("search", "retrain", "select"):
            if key not in spec:
                raise ConfigError("missing", f"pipeline.{key}", source)
        base = path.resolve().parent
        search = _stage_document(spec["search"], base, "search", source)
        if search.get("nasMode") != "darts":
            raise ConfigError(f"the search stage must run in darts mode (its learned distribution is sampled), "
                              f"got nasMode {search.get('nasMode')!r}", "pipeline.search", source)
        search.setdefault("darts", {}).setdefault("report_every", 10)
        if search["darts"]["report_every"] == 0:
            raise ConfigError("the search stage's darts.report_every is 0, so it reports no architecture weights "
                              "to sample from", "pipeline.search", source)
        retrain = _stage_document(spec["retrain"], base, "retrain", source)
        if retrain.get("nasMode", "classic") != "classic" or "architecture" in retrain:
            raise ConfigError("the retrain stage is a classic experiment without architecture: (the pipeline sets "
                              "it to each sample)", "pipeline.retrain", source)
        sample = spec.get("sample", {})
        if not isinstance(sample, dict) or set(sample) - {"count", "seed"}:
            raise ConfigError("expected {count: K, seed: S}", "pipeline.sample", source)
        count, seed = sample.get("count", 4), sample.get("seed", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"expected a positive integer, got {count!r}", "pipeline.sample.count", source)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"expected an integer, got {seed!r}", "pipeline.sample.seed", source)
        if not isinstance(spec["select"], str):
            raise ConfigError("expected the key of the retrain trials' final result (e.g. val_log_loss)",
                              "pipeline.select", source)
        tuner_mode = ((retrain.get("tuner") or {}).get("classArgs") or {}).get("optimize_mode", "maximize")
        mode = spec.get("optimize_mode", tuner_mode)
        if mode not in ("minimize", "maximize"):
            raise ConfigError(f"expected minimize or maximize, got {mode!r}", "pipeline.optimize_mode", source)
        columns = spec.get("columns")
        if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
            raise ConfigError("expected a list of result keys", "pipeline.columns", source)
        home = nas_home(nas_home_dir)
        if id is not None and not _ID.match(id):
            raise ExperimentError(f"invalid pipeline id {id!r}: use letters, digits, '-', '_' and '.' (at most 64)")
        pipeline_id = id or _new_id(home)
        if (home / pipeline_id).exists():
            raise ExperimentError(f"{pipeline_id!r} already exists in {home}; resume it with: nasctl resume {pipeline_id}")
        record = {"id": pipeline_id, "name": spec.get("name") or pipeline_id, "source": str(path.resolve()),
                  "search": search, "retrain": retrain, "sample": {"count": count, "seed": seed},
                  "select": spec["select"], "optimize_mode": mode, "columns": columns,
                  "stages": {"search": f"{pipeline_id}-search", "retrain": []}, "status": ExperimentStatus.CREATED}
        self = cls(record, home)
        self.dir.mkdir(parents=True, mode=0o700)
        self._save()
        return self

    @classmethod
    def load(cls, id: str, *, nas_home_dir: str | Path | None = None) -> Pipeline:
        """The stored pipeline `id`."""
        home = nas_home(nas_home_dir)
        if not is_pipeline(id, home):
            raise ExperimentError(f"no pipeline {id!r} in {home}")
        return cls(json.loads((home / id / PIPELINE_FILE).read_text(encoding="utf-8")), home)

    def _save(self) -> None:
        """Write the record atomically: a kill leaves the old one or the new one, never half of one."""
        temporary = self.dir / (PIPELINE_FILE + ".tmp")
        temporary.write_text(json.dumps(self.record, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.dir / PIPELINE_FILE)

    # -- running --------------------------------------------------------------------------------------

    def run(self, *, progress: Callable[[str, Experiment], Callable[[Any], None] | None] | None = None,
            out: Any = None) -> ExperimentStatus:
        """Run (or carry on with) every stage; prints and exports the final table. Returns DONE, STOPPED,
        INTERRUPTED or FAILED (the status of the stage that did not finish)."""
        out = out or sys.stdout
        self.record["status"] = ExperimentStatus.RUNNING
        self._save()
        search = self._stage(self.record["stages"]["search"], self.record["search"], progress)
        if search.status != ExperimentStatus.DONE:
            return self._halt(search)
        architectures = self._samples(search)
        retrains = []
        for index, architecture in enumerate(architectures):
            exp_id = f"{self.id}-retrain-{index}"
            document = {**self.record["retrain"], "architecture": str(architecture)}
            exp = self._stage(exp_id, document, progress)
            if exp_id not in self.record["stages"]["retrain"]:
                self.record["stages"]["retrain"].append(exp_id)
                self._save()
            if exp.status != ExperimentStatus.DONE:
                return self._halt(exp)
            retrains.append(exp)
        rows = self.table(retrains)
        self._export(rows)
        print(self.render(rows), file=out)
        self.record["status"] = ExperimentStatus.DONE
        self._save()
        return ExperimentStatus.DONE

    def _halt(self, exp: Experiment) -> ExperimentStatus:
        status = exp.status
        self.record["status"] = ExperimentStatus.STOPPED if status.resumable else ExperimentStatus.FAILED
        self.record["message"] = f"stage {exp.id} ended {status}"
        self._save()
        return status

    def _stage(self, exp_id: str, document: dict[str, Any], progress: Any) -> Experiment:
        """The stage's experiment: loaded when stored, else created; run unless it is done."""
        folder = self.home / exp_id
        if folder.is_dir() and not (folder / DB_NAME).is_file():
            shutil.rmtree(folder)  # killed while being created: nothing was stored in it yet
        try:
            exp = Experiment.load(exp_id, nas_home=self.home)
        except ExperimentError:
            exp = Experiment(document, id=exp_id, nas_home=self.home, base_dir=self.dir)
            exp.create()
        if exp.status != ExperimentStatus.DONE:
            exp.run(progress=progress(exp_id, exp) if progress else None)
        return exp

    def _samples(self, search: Experiment) -> list[Path]:
        """The distinct architectures drawn from the search, as files `samples/arch-<k>.json`."""
        folder = self.dir / "samples"
        index_file = folder / "index.json"
        if index_file.is_file():
            return [folder / name for name in json.loads(index_file.read_text(encoding="utf-8"))]
        sample = self.record["sample"]
        try:
            trial_id, drawn = search.sample_architectures(sample["count"], seed=sample["seed"])
        except ExperimentError as error:
            every = self.record["search"].get("darts", {}).get("report_every")
            self.record["status"] = ExperimentStatus.FAILED
            self.record["message"] = f"nothing to sample from the search {search.id}"
            self._save()
            raise ExperimentError(f"pipeline {self.id}: {error}; a darts trial reports its weights every "
                                  f"darts.report_every ({every}) architecture steps, so a shorter search needs a "
                                  "smaller report_every (pipeline.search)") from None
        distinct: list[dict[str, Any]] = []
        for architecture in drawn:
            if architecture not in distinct:
                distinct.append(architecture)
        folder.mkdir(exist_ok=True)
        names = []
        for index, architecture in enumerate(distinct):
            name = f"arch-{index}.json"
            (folder / name).write_text(json.dumps(architecture, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            names.append(name)
        self.record["sampled_from"] = {"experiment": search.id, "trial": trial_id, "drawn": len(drawn),
                                       "distinct": len(distinct)}
        self._save()
        temporary = folder / "index.json.tmp"
        temporary.write_text(json.dumps(names) + "\n", encoding="utf-8")
        os.replace(temporary, index_file)  # written last: the samples are complete once it exists
        return [folder / name for name in names]

    # -- the final table ------------------------------------------------------------------------------

    def _metric(self, record: TrialRecord) -> float | None:
        value = record.value
        if isinstance(value, dict):
            value = value.get(self.record["select"])
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def table(self, retrains: list[Experiment]) -> list[dict[str, Any]]:
        """One row per retrained architecture: its best trial by `select`; the best row is marked `best`."""
        pick = min if self.record["optimize_mode"] == "minimize" else max
        rows = []
        for exp in retrains:
            scored = [t for t in exp.trials() if t.status == TrialStatus.SUCCEEDED and self._metric(t) is not None]
            if not scored:
                rows.append({"experiment": exp.id, "trial": None, "architecture": _describe(exp), "best": False})
                continue
            trial = pick(scored, key=self._metric)
            value = trial.value if isinstance(trial.value, dict) else {"default": trial.value}
            free = {key: entry for key, entry in (trial.parameters or {}).items()
                    if key not in (exp.retrain_architecture() or {}).get("architecture", {})}
            rows.append({"experiment": exp.id, "trial": trial.trial_id, "architecture": _describe(exp),
                         "tuned": _compact(free), "best": False,
                         **{key: v for key, v in value.items() if key != "default"}})
        scored_rows = [row for row in rows if isinstance(row.get(self.record["select"]), int | float)]
        if scored_rows:
            pick(scored_rows, key=lambda row: row[self.record["select"]])["best"] = True
        return rows

    def _columns(self, rows: list[dict[str, Any]]) -> list[str]:
        fixed = ["experiment", "trial", "architecture", "tuned"]
        if self.record.get("columns"):
            return [*fixed, *self.record["columns"], "best"]
        extra = [key for row in rows for key in row if key not in (*fixed, "best")]
        return [*fixed, *dict.fromkeys(extra), "best"]

    def _export(self, rows: list[dict[str, Any]]) -> None:
        (self.dir / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns(rows), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        (self.dir / "results.csv").write_text(buffer.getvalue(), encoding="utf-8")

    def render(self, rows: list[dict[str, Any]]) -> str:
        """The final table as text, the winner marked with `*`."""
        columns = [c for c in self._columns(rows) if c not in ("experiment", "best")]
        body = [["", "experiment", *columns]]
        for row in rows:
            body.append(["*" if row.get("best") else "", row["experiment"], *(_cell(row.get(c)) for c in columns)])
        widths = [max(len(line[i]) for line in body) for i in range(len(body[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                 for line in body]
        best = next((row for row in rows if row.get("best")), None)
        head = f"pipeline {self.id}: {len(rows)} architectures retrained"
        if best is not None:
            head += f"; best on {self.record['select']}: {best['experiment']} trial {best['trial']}"
        return "\n".join([head, *lines, f"exported: {self.dir / 'results.json'}, {self.dir / 'results.csv'}"])


def _describe(exp: Experiment) -> str:
    fixed = exp.retrain_architecture() or {}
    return _compact(fixed.get("architecture") or {})


def _compact(architecture: dict[str, Any]) -> str:
    """`name=value` per key, loop-indexed keys (`m/dim/choice[3]`) gathered into one list per name."""
    grouped: dict[str, list[Any]] = {}
    for key in sorted(architecture, key=_natural):
        value = architecture[key]
        if isinstance(value, dict):  # a mutable_layer block: each layer's chosen candidate (and inputs)
            for layer, choice in value.items():
                inputs = choice.get("chosen_inputs") if isinstance(choice, dict) else None
                chosen = choice.get("chosen_layer") if isinstance(choice, dict) else choice
                grouped.setdefault(layer, []).append(f"{chosen}<{'+'.join(inputs)}" if inputs else chosen)
            continue
        name = key.split("/")[-2] if key.count("/") >= 2 else key
        grouped.setdefault(name, []).append(value)
    return " ".join(f"{name}={values[0] if len(values) == 1 else ','.join(map(str, values))}"
                    for name, values in grouped.items())


def _natural(key: str) -> tuple[Any, ...]:
    head, _, index = key.partition("[")
    return (head, int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1, key)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)
