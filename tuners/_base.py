"""`Tuner`, NNI's tuner interface, and `BuiltinTuner`, the machinery every built-in shares."""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import CheckpointError, NoMoreTrialError, SearchSpaceError, TunerArgumentError, TunerError
from ._space import Point, SearchSpace

__all__ = ["Tuner", "BuiltinTuner", "scalar_value", "OPTIMIZE_MODES"]

OPTIMIZE_MODES = ("maximize", "minimize")
_CHECKPOINT_FORMAT = "nasctl-tuner-checkpoint"
_CHECKPOINT_VERSION = 1


def scalar_value(value: Any, parameter_id: int | None = None) -> float:
    """The number a trial reported: `value` itself, or `value["default"]` when it is a dict.

    >>> scalar_value({"default": 0.93, "loss": 0.2})
    0.93
    """
    where = f"the result of parameter {parameter_id}" if parameter_id is not None else "the result"
    if isinstance(value, Mapping):
        if "default" not in value:
            raise TunerError(f"{where} is a dict without a 'default' key (keys: {', '.join(map(str, value))}); "
                             "a result is a number or a dict whose 'default' is the number to optimise")
        value = value["default"]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TunerError(f"{where} is {value!r}; expected a number or a dict with a numeric 'default'")
    return float(value)


class Tuner:
    """NNI's tuner interface: what proposes architectures and learns from their results.

    Port an NNI tuner by changing `from nni.tuner import Tuner` to `from tuners import Tuner`.
    The experiment manager calls, in this order:

    1. `update_search_space(search_space)` once before the first proposal (and again if the
       search space changes, e.g. when an experiment is resumed on edited code).
    2. `import_data(data)` when past results are loaded (a resumed or seeded experiment):
       a list of `{"parameter": architecture, "value": result}`.
    3. For each trial: `generate_parameters(parameter_id)` returns the architecture (DESIGN.md §3);
       it raises `NoMoreTrialError` when there is nothing left to try, and the experiment stops
       asking. Several trials run at once, so calls for different ids interleave.
    4. `receive_trial_result(parameter_id, parameters, value)` when that trial reports its final
       result, in whatever order trials finish; `value` is a number or a dict with a `default`.
    5. `trial_end(parameter_id, success)` when the trial's process ends. A failed trial
       (`success=False`) may never have reported a result: do not wait for it.
    6. `save_checkpoint(path)` after results, `load_checkpoint(path)` before step 3 on resume, so a
       resumed experiment continues the same search.

    `update_search_space`, `generate_parameters` and `receive_trial_result` must be implemented;
    the rest have working defaults (the checkpoint pickles the instance's attributes).

    >>> class Constant(Tuner):
    ...     def update_search_space(self, search_space): self.keys = list(search_space)
    ...     def generate_parameters(self, parameter_id, **kwargs): return {}
    ...     def receive_trial_result(self, parameter_id, parameters, value, **kwargs): pass
    """

    prepares_ahead: bool = False
    """Whether the manager may call `generate_parameters` while trials run, before their results
    arrive, so that a slot that frees starts its next trial at once (one set per slot to come,
    never more than maxTrialNumber leaves). Set it on a tuner whose suggestion stays valid without
    the latest results. Off by default: the tuner is then asked only when a slot is free, after
    the results that came before, as NNI asks. The config's `tuner: {prepareAhead: ...}` overrides it."""

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        """Receive the search space (NNI's JSON format)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update_search_space")

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        """The architecture for trial `parameter_id`; raise `NoMoreTrialError` when done."""
        raise NotImplementedError(f"{type(self).__name__} does not implement generate_parameters")

    def generate_multiple_parameters(self, parameter_id_list: list[int], **kwargs: Any) -> list[dict[str, Any]]:
        """Architectures for several ids; fewer (possibly none) when the tuner runs out."""
        result = []
        for parameter_id in parameter_id_list:
            try:
                result.append(self.generate_parameters(parameter_id, **kwargs))
            except NoMoreTrialError:
                break
        return result

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any,
                             **kwargs: Any) -> None:
        """Learn from the final result `value` of the architecture `parameters`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement receive_trial_result")

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """The trial's process ended; `success=False` means it failed (maybe without a result)."""

    def import_data(self, data: list[dict[str, Any]]) -> None:
        """Learn from past results: a list of `{"parameter": architecture, "value": result}`."""

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the tuner's whole state to `path`, atomically."""
        path = Path(path)
        document = {"format": _CHECKPOINT_FORMAT, "version": _CHECKPOINT_VERSION,
                    "class": _class_name(type(self)), "state": self._checkpoint_state()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=path.name, suffix=".tmp",
                                             delete=False) as handle:
                pickle.dump(document, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(handle.name, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
            raise CheckpointError(f"cannot write the checkpoint of {type(self).__name__} to {path}: {error}") from None

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore the state written by `save_checkpoint`; the same search continues."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                document = pickle.load(handle)
        except FileNotFoundError:
            raise CheckpointError(f"no tuner checkpoint at {path}") from None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise CheckpointError(f"{path} is not a readable tuner checkpoint: {error}") from None
        if not isinstance(document, dict) or document.get("format") != _CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a tuner checkpoint")
        if document.get("class") != _class_name(type(self)):
            raise CheckpointError(f"{path} is a checkpoint of {document.get('class')}, "
                                  f"not of {_class_name(type(self))}")
        self._restore_state(document["state"])

    def _checkpoint_state(self) -> dict[str, Any]:
        """What `save_checkpoint` pickles; override with `_restore_state` for unpicklable state."""
        return dict(vars(self))

    def _restore_state(self, state: dict[str, Any]) -> None:
        self.__dict__.clear()
        self.__dict__.update(state)


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def check_optimize_mode(value: Any) -> str:
    if value not in OPTIMIZE_MODES:
        raise TunerArgumentError(f"class argument 'optimize_mode' must be 'maximize' or 'minimize', got {value!r}")
    return value


def check_seed(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise TunerArgumentError(f"class argument 'seed' must be a non-negative integer or null, got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int) -> int:
    """`value` if it is an integer >= minimum, else a `TunerArgumentError` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TunerArgumentError(f"class argument '{name}' must be an integer >= {minimum}, got {value!r}")
    return value


def check_float(name: str, value: Any, low: float, high: float = math.inf, *, open_low: bool = False) -> float:
    """`value` as a float if it lies in [low, high] ((low, high] with `open_low`), else an error."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and \
        (value > low if open_low else value >= low) and value <= high
    if not ok:
        bracket = "(" if open_low else "["
        raise TunerArgumentError(f"class argument '{name}' must be a number in {bracket}{low}, {high}], got {value!r}")
    return float(value)


class BuiltinTuner(Tuner):
    """The machinery of the built-in tuners: search space, seeded generator, duplicates, modes.

    A subclass implements `_propose_impl` (a new point) and `_observe_impl` (a scored result),
    and may override `_reset_impl` (fresh state for a new search space), `_fail_impl` (a trial
    that ended without a usable result) and `_prepare_space`. Scores are always maximised:
    with `optimize_mode="minimize"` the score is the negated value. Every point handed out is
    remembered, so no architecture is proposed twice, and when a finite space is used up
    `generate_parameters` raises `NoMoreTrialError`.
    """

    max_retries = 32
    """How many candidates `_fresh` draws from the algorithm before falling back to a random
    unseen point."""

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None) -> None:
        self.optimize_mode = check_optimize_mode(optimize_mode)
        self.seed = check_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.space: SearchSpace | None = None
        self._seen: set[Point] = set()
        self._pending: dict[int, Point] = {}

    # -- NNI's interface ----------------------------------------------------------------------
    def update_search_space(self, search_space: dict[str, Any]) -> None:
        space = self._prepare_space(SearchSpace(search_space))
        if self.space is not None and space == self.space:
            return
        self.space = space
        self._seen = set()
        self._pending = {}
        self._reset_impl()

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        space = self._require_space()
        if space.size is not None and len(self._seen) >= space.size:
            raise NoMoreTrialError(f"{type(self).__name__}: all {space.size} architectures of the search space "
                                   "have been proposed")
        point = self._propose_impl(parameter_id)
        if point in self._seen:
            raise TunerError(f"{type(self).__name__} proposed an architecture twice (parameter {parameter_id}); "
                             "this is a bug in the tuner")
        self._seen.add(point)
        self._pending[parameter_id] = point
        return space.to_architecture(point)

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: Any,
                             **kwargs: Any) -> None:
        self._require_space()
        score = self._score(value, parameter_id)  # a bad value raises before any state changes
        point = self._pending.pop(parameter_id, None)
        if point is None:
            point = self._encode(parameters, f"the result of parameter {parameter_id}")
            self._seen.add(point)
        if score is None:
            self._fail_impl(parameter_id, point)
        else:
            self._observe_impl(parameter_id, point, score)

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        point = self._pending.pop(parameter_id, None)
        if point is not None:
            self._fail_impl(parameter_id, point)

    def import_data(self, data: list[dict[str, Any]]) -> None:
        self._require_space()
        if not isinstance(data, list):
            raise TunerError(f"import_data takes a list of {{'parameter': ..., 'value': ...}}, got {type(data).__name__}")
        checked: list[tuple[Point, float | None]] = []  # all entries are checked before any is used
        for index, entry in enumerate(data):
            if not isinstance(entry, Mapping) or "parameter" not in entry or "value" not in entry:
                raise TunerError(f"import_data entry {index}: expected {{'parameter': architecture, 'value': result}}, "
                                 f"got {entry!r:.200}")
            point = self._encode(entry["parameter"], f"import_data entry {index}")
            try:
                checked.append((point, self._score(entry["value"], None)))
            except TunerError as error:
                raise TunerError(f"import_data entry {index}: {error}") from None
        for point, score in checked:
            self._seen.add(point)
            if score is not None:
                self._observe_impl(None, point, score)

    # -- hooks --------------------------------------------------------------------------------
    def _prepare_space(self, space: SearchSpace) -> SearchSpace:
        """The space this tuner searches (e.g. discretised); raise `SearchSpaceError` to refuse it."""
        return space

    def _reset_impl(self) -> None:
        """Start afresh on `self.space`."""

    def _propose_impl(self, parameter_id: int) -> Point:
        """A point not in `self._seen` (use `_fresh`)."""
        raise NotImplementedError

    def _observe_impl(self, parameter_id: int | None, point: Point, score: float) -> None:
        """`point` scored `score` (higher is better); `parameter_id` is None for imported data."""

    def _fail_impl(self, parameter_id: int, point: Point) -> None:
        """Trial `parameter_id` ended without a usable result."""

    # -- helpers ------------------------------------------------------------------------------
    def _fresh(self, candidate: Callable[[], Point]) -> Point:
        """The first of up to `max_retries` candidates that was not proposed before, else a
        random unseen point (so a converged algorithm keeps making progress)."""
        for _ in range(self.max_retries):
            point = candidate()
            if point not in self._seen:
                return point
        return self.space.random_unseen(self.rng, self._seen)

    def _require_space(self) -> SearchSpace:
        if self.space is None:
            raise TunerError(f"{type(self).__name__}: update_search_space must be called before proposals or results")
        return self.space

    def _score(self, value: Any, parameter_id: int | None) -> float | None:
        number = scalar_value(value, parameter_id)
        if not math.isfinite(number):
            return None
        return number if self.optimize_mode == "maximize" else -number

    def _encode(self, architecture: Any, where: str) -> Point:
        try:
            return self.space.from_architecture(architecture)
        except SearchSpaceError as error:
            raise SearchSpaceError(error.detail, error.key, where) from None
