"""Retraining a fixed architecture: the `architecture:` key, and a tuner that searches only what is left.

A retrain experiment (`architecture: {experiment: ID, trial: T}` or `architecture: arch.json`) runs in
classic mode; `architecture: DIR/` (a folder of architecture files, as `nasctl experiment export
--lambdas/--frontier/--sample -o DIR` writes) retrains each of them, trial k the (k mod n)-th file. `{experiment, trial}` takes the trial's derived architecture (enas/oneshot/darts: its
`mutable_layer` blocks, plus the function choices the trial was given) or, for a classic trial, its
parameters. The architecture is resolved once, when the experiment is created, validated against
the experiment's search space and stored with it (`nasctl experiment show` prints it). Its keys (and,
inside a `mutable_layer` block, its layers) are fixed; the tuner sees a search space with only the
keys it leaves open, and each trial receives the fixed architecture merged with the tuner's proposal.

The same wrapper serves one-shot experiments without a tuner (oneshot, darts): there the supernet
decides the `mutable_layer` blocks, and the remaining keys (`variable`s, function choices) are drawn
by `Random`, seeded from the experiment seed.

When nothing is left open, every trial receives the fixed architecture as it is: a retrain that fixes
everything runs `maxTrialNumber` trials (default 1) of that one architecture, each with its own trial
seed (`NAS_TRIAL_SEED`), which is how several seeds of one architecture are trained.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ArchitectureError, ConfigError, ExperimentError
from nasctl.runtime.manager._config import ArchitectureSpec

from nasctl.searchspace import is_function_choice, validate_architecture

__all__ = ["PartialSpaceTuner", "TunerlessProposer", "free_space", "merge_architecture", "resolve_architecture"]

log = logging.getLogger("nasctl.manager")


def free_space(search_space: Mapping[str, Any], fixed: Mapping[str, Any], *,
               layers_fixed: bool = False) -> dict[str, Any]:
    """The part of `search_space` that `fixed` leaves open.

    A `mutable_layer` block keeps the layers `fixed` does not name (and is dropped when it names them
    all); with `layers_fixed` every block is dropped (one-shot modes: the supernet decides them).
    """
    out: dict[str, Any] = {}
    for key, entry in search_space.items():
        if entry["_type"] == "mutable_layer":
            if layers_fixed:
                continue
            chosen = fixed.get(key) or {}
            layers = {name: layer for name, layer in entry["_value"].items() if name not in chosen}
            if layers:
                out[key] = {**entry, "_value": layers}
        elif key not in fixed:
            out[key] = entry
    return out


def merge_architecture(fixed: Mapping[str, Any], proposed: Mapping[str, Any]) -> dict[str, Any]:
    """`fixed` with `proposed` added: a block both name gets the layers of each."""
    merged = copy.deepcopy(dict(fixed))
    for key, value in proposed.items():
        if isinstance(merged.get(key), dict) and isinstance(value, Mapping):
            merged[key] = {**merged[key], **copy.deepcopy(dict(value))}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _restrict(parameters: Mapping[str, Any], space: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `parameters` that lies in `space` (what the inner tuner proposed)."""
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        entry = space.get(key)
        if entry is None:
            continue
        if entry["_type"] == "mutable_layer" and isinstance(value, Mapping):
            out[key] = {name: layer for name, layer in value.items() if name in entry["_value"]}
        else:
            out[key] = value
    return out


class TunerlessProposer:
    """Stands in for a tuner where nothing is searched (no key is open): every trial gets `{}`."""

    prepares_ahead = True

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        pass

    def generate_parameters(self, parameter_id: int, **kw: Any) -> dict[str, Any]:
        return {}

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any, **kw: Any) -> None:
        pass

    def trial_end(self, parameter_id: int, success: bool, **kw: Any) -> None:
        pass


class PartialSpaceTuner:
    """A tuner (made by `factory` once the search space is known) over the keys `fixed` leaves open.

    `generate_parameters` returns `fixed` merged with the inner tuner's proposal; results are passed
    on with the fixed part removed, so the inner tuner sees only its own space. Checkpoints and any
    other attribute are the inner tuner's.

    >>> space = {"m/lr/choice": {"_type": "choice", "_value": [0.1]},
    ...          "m/b": {"_type": "mutable_layer", "_value": {"h": {"layer_choice": ["a()", "b()"]}}}}
    >>> tuner = PartialSpaceTuner(lambda: TunerlessProposer(), {"m/lr/choice": 0.1})
    >>> tuner.update_search_space(space); sorted(tuner.space)
    ['m/b']
    """

    def __init__(self, factory: Callable[[], Any], fixed: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                 *, layers_fixed: bool = False) -> None:
        self._factory = factory
        # Several architectures (a retrain of a folder): the k-th proposal fixes the (k mod n)-th one.
        # A resume replays the proposals in order, so the count comes back with them.
        self.fixed_list = [dict(a) for a in fixed] if isinstance(fixed, Sequence) else [dict(fixed or {})]
        self.fixed = self.fixed_list[0]
        self.proposals = 0
        self.layers_fixed = layers_fixed
        self.space: dict[str, Any] = {}
        self.inner: Any = None

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        self.space = free_space(search_space, self.fixed, layers_fixed=self.layers_fixed)
        if self.inner is None:
            self.inner = self._factory() if self.space else TunerlessProposer()
            if not self.space:
                log.info("tuner: the search space has no open key; every trial gets the same parameters")
        self.inner.update_search_space(dict(self.space))

    def generate_parameters(self, parameter_id: int, **kw: Any) -> dict[str, Any]:
        proposed = self.inner.generate_parameters(parameter_id, **kw)
        fixed = self.fixed_list[self.proposals % len(self.fixed_list)]
        self.proposals += 1
        return merge_architecture(fixed, proposed)

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any, **kw: Any) -> None:
        self.inner.receive_trial_result(parameter_id, _restrict(parameters, self.space), value, **kw)

    def trial_end(self, parameter_id: int, success: bool, **kw: Any) -> None:
        hook = getattr(self.inner, "trial_end", None)
        if callable(hook):
            hook(parameter_id, success, **kw)

    def import_data(self, data: list[dict[str, Any]]) -> None:
        hook = getattr(self.inner, "import_data", None)
        if callable(hook):
            hook([{**item, "parameter": _restrict(item.get("parameter", {}), self.space)} for item in data])

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class lacks (save_checkpoint, best_architecture, ...).
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)


def architecture_files(folder: Path) -> list[Path]:
    """The architecture files of a folder given as `architecture:`: every `*.json` in name order,
    except `costs.json` (the summary `nasctl experiment export --lambdas/--frontier` writes beside them)."""
    return sorted(p for p in folder.glob("*.json") if p.name != "costs.json" and p.is_file())


def resolve_architecture(spec: ArchitectureSpec, search_space: Mapping[str, Any],
                         homes: list[Path]) -> dict[str, Any] | list[dict[str, Any]]:
    """The architecture `spec` names, checked against `search_space`; ConfigError naming the key.

    `homes` are the folders searched for `{experiment: ID}`, in order (the retrain's own, $NAS_HOME).
    A folder gives the list of its architectures (`architecture_files`), which must fix the same keys.
    """
    if spec.file is not None and spec.file.is_dir():
        files = architecture_files(spec.file)
        if not files:
            raise ConfigError(f"architecture folder {spec.file} holds no architecture (*.json) file",
                              key="architecture", path=spec.where)
        found = [resolve_architecture(ArchitectureSpec(file=file, where=spec.where), search_space, homes)
                 for file in files]
        for file, architecture in zip(files, found, strict=True):
            if _fixed_keys(architecture) != _fixed_keys(found[0]):
                raise ConfigError(f"{file} fixes other keys than {files[0]}; the architectures of one retrain "
                                  "must fix the same keys (the tuner searches the rest)", key="architecture",
                                  path=spec.where)
        return found  # type: ignore[return-value]
    if spec.file is not None:
        architecture = _from_file(spec.file, spec.where)
        what = f"architecture file {spec.file}"
    else:
        architecture = _from_trial(spec, homes)
        what = f"the architecture of trial {spec.trial} of experiment {spec.experiment}"
    if not architecture:
        raise ConfigError(f"{what} is empty: it fixes nothing to retrain", key="architecture", path=spec.where)
    try:
        validate_architecture(architecture, search_space, partial=True)
    except ArchitectureError as error:
        raise ConfigError(f"{what} does not fit this experiment's search space: {error}", key="architecture",
                          path=spec.where) from None
    return architecture


def _fixed_keys(architecture: Any) -> set[tuple[str, str]]:
    return {(key, layer) for key, value in architecture.items()
            for layer in (value if isinstance(value, Mapping) else [""])}


def _from_file(file: Path, where: str | None) -> dict[str, Any]:
    from nasctl.runtime.trial import load_architecture_file

    from nasctl import schemas

    if not file.is_file():
        raise ConfigError(f"architecture file {file} does not exist", key="architecture", path=where)
    try:
        return load_architecture_file(file)
    except (ArchitectureError, schemas.SchemaError) as error:
        raise ConfigError(str(error), key="architecture", path=where) from None


def _from_trial(spec: ArchitectureSpec, homes: list[Path]) -> dict[str, Any]:
    from nasctl.runtime.manager._experiment import Experiment

    experiment_id, trial_id = str(spec.experiment), str(spec.trial)
    source = None
    for home in dict.fromkeys(homes):
        try:
            source = Experiment.load(experiment_id, nas_home=home)
            break
        except ExperimentError:
            continue
    if source is None:
        searched = ", ".join(str(home) for home in dict.fromkeys(homes))
        raise ConfigError(f"no experiment {experiment_id!r} in {searched} (see nasctl experiment list; "
                          "NAS_HOME selects the folder)", key="architecture.experiment", path=spec.where)
    trials = {record.trial_id: record for record in source.trials()}
    record = trials.get(trial_id)
    if record is None:
        known = ", ".join(trials) or "none"
        raise ConfigError(f"experiment {experiment_id} has no trial {trial_id!r} (its trials: {known})",
                          key="architecture.trial", path=spec.where)
    if record.derived_architecture:
        # A one-shot trial derives its blocks; its function choices (given to it, like variables)
        # are architecture too, so they are fixed with the blocks. Its variables stay open.
        chosen = {key: value for key, value in (record.parameters or {}).items()
                  if is_function_choice(key)}
        return {**chosen, **record.derived_architecture}
    if source.config.nas_mode != "classic":
        raise ConfigError(f"trial {trial_id} of experiment {experiment_id} ({source.config.nas_mode} mode, "
                          f"status {record.status}) reported no derived architecture; pick a trial that "
                          f"succeeded (nasctl trial ls {experiment_id})", key="architecture.trial", path=spec.where)
    if not record.parameters:
        raise ConfigError(f"trial {trial_id} of experiment {experiment_id} has no parameters yet (status "
                          f"{record.status})", key="architecture.trial", path=spec.where)
    return dict(record.parameters)
