"""The tuner conformance properties, `check_tuner` to run them, and `TunerConformance` for pytest."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .._base import Tuner
from .._errors import NoMoreTrialError, TunerArgumentError, TunerError
from ._errors import TunerConformanceError
from ._spaces import (
    FINITE_SIZE,
    FINITE_SPACE,
    LARGE_INPUT_SPACE,
    MIXED_SPACE,
    check_proposal,
    drive,
    objective,
)

__all__ = ["PROPERTIES", "check_tuner", "TunerConformance"]

TunerFactory = Callable[..., Tuner]


class _Subject:
    """The tuner under test: `make(**class_args)` and the richest space it accepts."""

    def __init__(self, factory: TunerFactory, space: Mapping[str, Any]) -> None:
        self.factory = factory
        self.space = dict(space)

    def make(self, **class_args: Any) -> Tuner:
        tuner = self.factory(**class_args)
        if not isinstance(tuner, Tuner):
            raise TunerConformanceError(f"the factory returned {type(tuner).__name__}, not a nasctl.tuners.Tuner")
        return tuner

    def started(self, seed: int, space: Mapping[str, Any] | None = None, **class_args: Any) -> Tuner:
        tuner = self.make(seed=seed, **class_args)
        tuner.update_search_space(dict(self.space if space is None else space))
        return tuner


def _key(arch: Any) -> str:
    return json.dumps(arch, sort_keys=True)


def _difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The first key where two architectures differ, with both values."""
    for key in sorted(set(a) | set(b)):
        if _key(a.get(key)) != _key(b.get(key)):
            return f"key {key!r}: {_key(a.get(key)):.120} vs {_key(b.get(key)):.120}"
    return "no key differs"


def _expect(error: type[Exception], words: Iterable[str], what: str, call: Callable[[], Any]) -> None:
    """`call()` must raise `error` whose message contains each of `words`."""
    try:
        call()
    except error as raised:
        missing = [w for w in words if w not in str(raised)]
        if missing:
            raise TunerConformanceError(f"{what}: the {type(raised).__name__} does not mention "
                                        f"{', '.join(map(repr, missing))}: {raised}") from None
        return
    except Exception as raised:
        raise TunerConformanceError(f"{what}: expected {error.__name__}, got {type(raised).__name__}: {raised}") from raised
    raise TunerConformanceError(f"{what}: expected {error.__name__}, nothing was raised")


# -- the properties ------------------------------------------------------------------------------


def proposals_stay_in_the_space(subject: _Subject) -> None:
    """25 proposals are architectures of the search space (every `_type`, layers and input sets)."""
    for i, arch in enumerate(drive(subject.started(1), 25)):
        check_proposal(subject.space, arch, f"proposal {i}")


def same_seed_same_sequence(subject: _Subject) -> None:
    """Two tuners with the same seed propose the same 15 architectures."""
    first, second = (drive(subject.started(7), 15) for _ in range(2))
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        if _key(a) != _key(b):
            raise TunerConformanceError(f"seed 7 twice: proposal {i} differs at {_difference(a, b)}")


def different_seeds_differ(subject: _Subject) -> None:
    """Seeds 1 and 2 give different sequences of 5 proposals (skip it for a seed-free order, e.g. a grid)."""
    if [_key(a) for a in drive(subject.started(1), 5)] == [_key(a) for a in drive(subject.started(2), 5)]:
        raise TunerConformanceError("seeds 1 and 2 gave the same 5 proposals: the seed is not used")


def failed_trials_are_tolerated(subject: _Subject) -> None:
    """Trials that end without a result, or with NaN, are not waited for; dict results are read."""
    tuner = subject.started(3)
    for parameter_id in range(20):
        parameters = tuner.generate_parameters(parameter_id)
        check_proposal(subject.space, parameters, f"proposal {parameter_id}")
        if parameter_id % 3 == 0:
            tuner.trial_end(parameter_id, False)  # crashed before reporting
        elif parameter_id % 3 == 1:
            tuner.receive_trial_result(parameter_id, parameters, float("nan"))  # diverged
            tuner.trial_end(parameter_id, False)
        else:
            tuner.receive_trial_result(parameter_id, parameters, {"default": objective(parameters), "loss": 1.0})
            tuner.trial_end(parameter_id, True)


def results_out_of_order(subject: _Subject) -> None:
    """8 proposals outstanding at once, their results back in another order, then the search goes on."""
    tuner = subject.started(4)
    pending = {i: tuner.generate_parameters(i) for i in range(8)}
    for parameter_id in (5, 0, 7, 2, 1, 6, 3, 4):
        tuner.receive_trial_result(parameter_id, pending[parameter_id], objective(pending[parameter_id]))
    for i, arch in enumerate([*pending.values(), *drive(tuner, 10, start=8)]):
        check_proposal(subject.space, arch, f"proposal {i}")


def finite_space_is_exhausted(subject: _Subject) -> None:
    """In a space of 72 architectures: 72 distinct proposals, then `NoMoreTrialError`."""
    tuner = subject.started(5, FINITE_SPACE)
    proposals = drive(tuner, FINITE_SIZE)
    for i, arch in enumerate(proposals):
        check_proposal(FINITE_SPACE, arch, f"proposal {i} in the finite space")
    distinct = len({_key(p) for p in proposals})
    if distinct != FINITE_SIZE:
        raise TunerConformanceError(f"{FINITE_SIZE} proposals in a space of {FINITE_SIZE} architectures "
                                    f"hold only {distinct} distinct ones: a tuner never proposes one twice")
    _expect(NoMoreTrialError, [], f"proposal {FINITE_SIZE} of a used-up space",
            lambda: tuner.generate_parameters(FINITE_SIZE))
    batch = subject.started(0, {"k": {"_type": "choice", "_value": [1, 2, 3]}}).generate_multiple_parameters(
        [0, 1, 2, 3, 4])
    if sorted(p["k"] for p in batch) != [1, 2, 3]:
        raise TunerConformanceError(f"generate_multiple_parameters for 5 ids in a space of 3 returned {batch}; "
                                    "expected the 3 architectures (it stops at NoMoreTrialError)")


def checkpoint_continues_the_search(subject: _Subject) -> None:
    """After `save_checkpoint`/`load_checkpoint` (and the space sent again, as on resume) a new tuner
    proposes what the original would have; a trial pending at the checkpoint still takes its result."""
    tuner = subject.started(11)
    drive(tuner, 12)
    pending = tuner.generate_parameters(12)  # a trial still running at the checkpoint
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tuner.ckpt"
        tuner.save_checkpoint(path)
        tuner.receive_trial_result(12, pending, objective(pending))
        expected = drive(tuner, 10, start=13)
        resumed = subject.make(seed=11)
        resumed.load_checkpoint(path)
    resumed.update_search_space(dict(subject.space))  # the manager sends the space again on resume: a no-op
    resumed.receive_trial_result(12, pending, objective(pending))
    got = drive(resumed, 10, start=13)
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        if _key(a) != _key(b):
            raise TunerConformanceError(f"after the checkpoint, proposal {13 + i} differs from the original "
                                        f"tuner's at {_difference(b, a)} (resumed vs original)")


def import_data_is_used(subject: _Subject) -> None:
    """Imported architectures are not proposed again (the rest of the space is, then exhaustion);
    malformed entries are refused with a `TunerError` naming the entry, and nothing of them is used."""
    source = subject.started(0, FINITE_SPACE)
    past = [{"parameter": p, "value": objective(p)} for p in drive(source, 20)]
    past[0]["value"] = {"default": past[0]["value"]}
    tuner = subject.started(6, FINITE_SPACE)
    good = past[1]["parameter"]
    _expect(TunerError, ["entry 1", "f/k/randint"], "import_data of an entry with a value outside the space",
            lambda: tuner.import_data([past[1], {"parameter": {**good, "f/k/randint": 3}, "value": 1.0}]))
    _expect(TunerError, ["entry 0"], "import_data of an entry without 'parameter'",
            lambda: tuner.import_data([{"params": good}]))
    _expect(TunerError, ["entry 1"], "import_data of an entry whose value is 'high'",
            lambda: tuner.import_data([past[1], {"parameter": good, "value": "high"}]))
    tuner.import_data(past)
    imported = {_key(d["parameter"]) for d in past}
    fresh = drive(tuner, FINITE_SIZE - len(imported))
    again = imported & {_key(p) for p in fresh}
    if again:
        raise TunerConformanceError(f"{len(again)} imported architectures were proposed again, e.g. {min(again):.200}")
    _expect(NoMoreTrialError, [], "a proposal after the imported and fresh ones cover the space",
            lambda: tuner.generate_parameters(999))


def minimize_mode_is_accepted(subject: _Subject) -> None:
    """`optimize_mode="minimize"` is a class argument, and the proposals stay in the space."""
    for i, arch in enumerate(drive(subject.started(2, optimize_mode="minimize"), 12)):
        check_proposal(subject.space, arch, f"proposal {i} in minimize mode")


def mistakes_are_clear_errors(subject: _Subject) -> None:
    """Misuse raises `TunerError`s that say what is wrong, and a refused call changes nothing."""
    tuner = subject.make(seed=0)
    _expect(TunerError, ["update_search_space"], "a proposal before update_search_space",
            lambda: tuner.generate_parameters(0))
    tuner.update_search_space(dict(FINITE_SPACE))
    parameters = tuner.generate_parameters(0)
    _expect(TunerError, ["default"], "a result dict without a 'default' key",
            lambda: tuner.receive_trial_result(0, parameters, {"accuracy": 0.9}))
    tuner.receive_trial_result(0, parameters, 1.0)  # the pending trial still takes its result
    if len({_key(p) for p in drive(tuner, FINITE_SIZE - 1, start=1)} | {_key(parameters)}) != FINITE_SIZE:
        raise TunerConformanceError("after a refused result the search no longer covers the finite space")
    _expect(TunerArgumentError, ["optimize_mode"], "optimize_mode='max'", lambda: subject.make(optimize_mode="max"))
    _expect(TunerArgumentError, ["seed"], "seed='x'", lambda: subject.make(seed="x"))


def large_input_sets(subject: _Subject) -> None:
    """A layer with 4096 input sets (12 optional inputs, any number of them) is searched."""
    for i, arch in enumerate(drive(subject.started(0, LARGE_INPUT_SPACE), 15)):
        check_proposal(LARGE_INPUT_SPACE, arch, f"proposal {i} with 12 optional inputs")


def late_results_are_used(subject: _Subject) -> None:
    """A result that arrives (twice) after its trial was declared failed is accepted, and that
    architecture is not proposed again."""
    tuner = subject.started(8)
    first = tuner.generate_parameters(0)
    tuner.trial_end(0, False)
    tuner.receive_trial_result(0, first, objective(first))  # late: the manager had given up on it
    tuner.receive_trial_result(0, first, objective(first))  # and reported twice
    later = drive(tuner, 16, start=1)
    for i, arch in enumerate(later, 1):
        check_proposal(subject.space, arch, f"proposal {i}")
    if _key(first) in {_key(a) for a in later}:
        raise TunerConformanceError("the architecture of trial 0 (failed, then reported) was proposed again")


PROPERTIES: dict[str, Callable[[_Subject], None]] = {fn.__name__: fn for fn in (
    proposals_stay_in_the_space, same_seed_same_sequence, different_seeds_differ, failed_trials_are_tolerated,
    results_out_of_order, finite_space_is_exhausted, checkpoint_continues_the_search, import_data_is_used,
    minimize_mode_is_accepted, mistakes_are_clear_errors, large_input_sets, late_results_are_used,
)}
"""Every property, by name: what `check_tuner` runs and what `TunerConformance` turns into tests."""


def _check_names(names: Iterable[str], argument: str) -> None:
    unknown = [name for name in names if name not in PROPERTIES]
    if unknown:
        raise TunerArgumentError(f"{argument}: unknown conformance propert{'ies' if len(unknown) > 1 else 'y'} "
                                 f"{', '.join(map(repr, unknown))}; the properties: {', '.join(PROPERTIES)}")


def run_property(name: str, factory: TunerFactory, search_space: Mapping[str, Any] = MIXED_SPACE) -> None:
    """Check one property; raise `TunerConformanceError` naming it if the tuner breaks it."""
    _check_names([name], "run_property")
    try:
        PROPERTIES[name](_Subject(factory, search_space))
    except TunerConformanceError as error:
        raise TunerConformanceError(f"{name}: {error}") from error.__cause__
    except Exception as error:
        raise TunerConformanceError(f"{name}: the tuner raised {type(error).__name__}: {error}") from error


def check_tuner(factory: TunerFactory, *, search_space: Mapping[str, Any] = MIXED_SPACE,
                skip: Mapping[str, str] | None = None, only: Iterable[str] | None = None) -> list[str]:
    """Run the conformance properties on the tuner `factory(seed=..., optimize_mode=...)` makes.

    `search_space` is the richest space the tuner accepts (default: every `_type`, unbounded ones
    included); `skip` maps a property's name to why it does not apply; `only` picks properties.
    Returns the names checked; raises one `TunerConformanceError` listing every broken property.

    >>> from nasctl import tuners
    >>> check_tuner(lambda **kw: tuners.create("Random", **kw), only=["proposals_stay_in_the_space"])
    ['proposals_stay_in_the_space']
    """
    skip = dict(skip or {})
    names = list(PROPERTIES) if only is None else list(only)
    _check_names(skip, "skip")
    _check_names(names, "only")
    checked, failures = [], []
    for name in names:
        if name in skip:
            continue
        try:
            run_property(name, factory, search_space)
        except TunerConformanceError as error:
            failures.append(str(error))
        checked.append(name)
    if failures:
        raise TunerConformanceError(f"{len(failures)} of {len(checked)} conformance properties broken:\n  "
                                    + "\n  ".join(failures))
    return checked


class TunerConformance:
    """The conformance properties as pytest tests: subclass it in a `test_*.py` file as `Test...`.

        class TestMyTuner(TunerConformance):
            tuner_factory = MyTuner            # called as tuner_factory(seed=..., optimize_mode=...)
            search_space = MIXED_SPACE         # the richest space it accepts
            skip = {"different_seeds_differ": "the order does not depend on the seed"}

    Each property is one test method, `test_<property>`; a skipped one is reported with its reason.
    pytest is only imported when a skip is reported, so this module works without it.
    """

    tuner_factory: TunerFactory
    search_space: Mapping[str, Any] = MIXED_SPACE
    skip: Mapping[str, str] = {}

    def _check(self, name: str) -> None:
        cls = type(self)
        if not hasattr(cls, "tuner_factory"):
            raise TunerArgumentError(f"{cls.__name__} must set tuner_factory (a tuner class or a function "
                                     "taking seed= and optimize_mode=)")
        _check_names(cls.skip, f"{cls.__name__}.skip")
        if name in cls.skip:
            try:
                import pytest
            except ImportError:
                raise ImportError("TunerConformance reports skips through pytest (pip install pytest); "
                                  "without pytest, call nasctl.tuners.testing.check_tuner") from None
            pytest.skip(cls.skip[name])
        run_property(name, cls.tuner_factory, cls.search_space)


def _test_method(name: str) -> Callable[[TunerConformance], None]:
    def test(self: TunerConformance) -> None:
        self._check(name)
    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = PROPERTIES[name].__doc__
    return test


for _name in PROPERTIES:
    setattr(TunerConformance, f"test_{_name}", _test_method(_name))
del _name

