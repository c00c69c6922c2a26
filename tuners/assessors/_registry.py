"""`create`: an assessor from its name in the experiment config, built-in or `module:Class`."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

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
    module_name, _, class_name = target.partition(":") if ":" in target else target.rpartition(".")
    if not module_name or not class_name:
        raise AssessorError(f"unknown assessor {name!r}; built-in assessors: {', '.join(ASSESSORS)}; a custom "
                            "assessor is named 'module:Class' with its code directory")
    if code_dir is not None:
        directory = str(Path(code_dir).resolve())
        if not Path(directory).is_dir():
            raise AssessorError(f"assessor {name!r}: code directory {code_dir} does not exist")
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        where = f" in code directory {code_dir}" if code_dir is not None else " (no code directory given)"
        raise AssessorError(f"assessor {name!r}: cannot import module {module_name!r}{where}: {error}") from None
    except Exception as error:  # the user's module failed while importing: say which and why
        raise AssessorError(f"assessor {name!r}: importing module {module_name!r} failed: "
                            f"{type(error).__name__}: {error}") from error
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise AssessorError(f"assessor {name!r}: module {module_name!r} has no class {class_name!r}")
    if not callable(getattr(cls, "assess_trial", None)) or cls.assess_trial is Assessor.assess_trial:
        raise AssessorError(f"assessor {name!r}: {cls.__name__} is not an assessor (subclass "
                            "nasctl.tuners.assessors.Assessor and implement assess_trial)")
    return cls


def _check_arguments(cls: type, label: str, class_args: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    parameters = signature.parameters.values()
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        signature.bind(**class_args)
    except TypeError:
        unknown = [a for a in class_args if a not in accepted]
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in parameters):
            raise AssessorError(f"assessor {label} takes no class argument {unknown[0]!r}; accepted: "
                                f"{', '.join(accepted) or '(none)'}") from None
        missing = [p.name for p in parameters if p.default is p.empty and p.name in accepted
                   and p.name not in class_args]
        raise AssessorError(f"assessor {label} needs class argument(s) {', '.join(missing)}; accepted: "
                            f"{', '.join(accepted)}") from None


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
    _check_arguments(cls, label, class_args)
    try:
        return cls(**class_args)
    except AssessorError:
        raise
    except (TypeError, ValueError) as error:
        raise AssessorError(f"assessor {label}: bad class arguments {class_args}: {error}") from error
