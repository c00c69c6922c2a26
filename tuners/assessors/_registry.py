"""`create`: an assessor from its name in the experiment config, built-in or `module:Class`."""

from __future__ import annotations

import inspect
import os
from typing import Any

from .._plugin import check_class_arguments, load_class
from ._base import Assessor, AssessorError

__all__ = ["ASSESSORS", "create"]

ASSESSORS: dict[str, str] = {
    "Medianstop": "nasctl.tuners.assessors._medianstop:MedianstopAssessor",
    "Curvefitting": "nasctl.tuners.assessors._curvefitting:CurvefittingAssessor",
    "SuccessiveHalving": "nasctl.tuners.assessors._optuna:SuccessiveHalvingAssessor",
    "Hyperband": "nasctl.tuners.assessors._optuna:HyperbandAssessor",
}
"""Built-in assessors: the name used in configs -> `module:Class`. A new built-in is one entry."""

_ALIASES = {"asha": "SuccessiveHalving", "sha": "SuccessiveHalving", "median": "Medianstop",
            "medianstopping": "Medianstop", "curvefit": "Curvefitting"}


def _canonical(name: str) -> str | None:
    """The built-in a name means, ignoring case, punctuation and an `Assessor` suffix."""
    squashed = "".join(ch for ch in name.lower() if ch.isalnum()).removesuffix("assessor")
    for builtin in ASSESSORS:
        if builtin.lower() == squashed:
            return builtin
    return _ALIASES.get(squashed)


def _load(target: str, code_dir: str | os.PathLike[str] | None, name: str) -> type:
    cls = load_class(target, code_dir, kind="assessor", name=name, builtins=ASSESSORS, error=AssessorError)
    if not callable(getattr(cls, "assess_trial", None)) or cls.assess_trial is Assessor.assess_trial:
        raise AssessorError(f"assessor {name!r}: {cls.__name__} is not an assessor (subclass "
                            "nasctl.tuners.assessors.Assessor and implement assess_trial)")
    return cls


def accepts(name: str, argument: str, *, code_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the assessor `name` takes the class argument `argument` (e.g. `optimize_mode`)."""
    cls = _resolve(name, code_dir)
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return argument in parameters


def _resolve(name: str, code_dir: str | os.PathLike[str] | None) -> type:
    if not isinstance(name, str) or not name.strip():
        raise AssessorError(f"an assessor name must be a non-empty string, got {name!r}; "
                            f"built-in assessors: {', '.join(ASSESSORS)}")
    builtin = _canonical(name) if ":" not in name else None
    if builtin is not None:
        return _load(ASSESSORS[builtin], None, name)
    if ":" in name or "." in name:
        return _load(name, code_dir, name)
    raise AssessorError(f"unknown assessor {name!r}; built-in assessors: {', '.join(ASSESSORS)}; a custom "
                        "assessor is named 'module:Class' with its code directory")


def create(name: str, *, code_dir: str | os.PathLike[str] | None = None, **class_args: Any) -> Assessor:
    """An assessor built from its config name and `classArgs`.

    `name` is a built-in (`Medianstop`, `Curvefitting`, `SuccessiveHalving` (alias `ASHA`),
    `Hyperband`; case and an `Assessor` suffix are ignored) or a custom `module:Class` imported
    with `code_dir` on `sys.path`. An unknown name or a class argument the assessor does not take
    raises `AssessorError` saying what is accepted.

    >>> create("medianstop", start_step=3).start_step
    3
    """
    cls = _resolve(name, code_dir)
    builtin = _canonical(name) if ":" not in name else None
    label = builtin or name
    check_class_arguments(cls, label, class_args, kind="assessor", error=AssessorError)
    try:
        return cls(**class_args)
    except AssessorError:
        raise
    except (TypeError, ValueError) as error:
        raise AssessorError(f"assessor {label}: bad class arguments {class_args}: {error}") from error
