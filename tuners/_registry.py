"""`create`: a tuner from its name in the experiment config, built-in or `module:Class`."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from nasctl._nni_compat import provide_nni

from ._base import Tuner
from ._errors import TunerArgumentError, TunerError
from ._nni import resolve_nni

__all__ = ["create", "BUILTINS", "builtin_names"]

BUILTINS: dict[str, str] = {
    "Random": "nasctl.tuners._random:RandomTuner",
    "GridSearch": "nasctl.tuners._grid:GridSearchTuner",
    "Evolution": "nasctl.tuners._evolution:EvolutionTuner",
    "TPE": "nasctl.tuners._tpe:TPETuner",
    "Reinforce": "nasctl.tuners._policy:ReinforceTuner",
    "PPO": "nasctl.tuners._policy:PPOTuner",
    # The enas-mode controller: it repeats subgraphs on purpose and never runs out.
    "ENAS": "nasctl.tuners._enas:ENASTuner",
}
"""Built-in tuners: the name used in configs -> `module:Class`. A new built-in is one entry."""

_ALIASES = {"randomsearch": "Random", "grid": "GridSearch", "regularizedevolution": "Evolution",
            "agingevolution": "Evolution", "policygradient": "Reinforce"}


def builtin_names() -> list[str]:
    """The built-in tuner names, as written in configs."""
    return list(BUILTINS)


def _canonical(name: str) -> str | None:
    """The built-in a name means, ignoring case, punctuation and a `Tuner` suffix (NNI's `PPOTuner`)."""
    squashed = "".join(ch for ch in name.lower() if ch.isalnum())
    for candidate in (squashed, squashed.removesuffix("tuner")):
        for builtin in BUILTINS:
            if builtin.lower() == candidate:
                return builtin
        if candidate in _ALIASES:
            return _ALIASES[candidate]
    return None


def _load(target: str, code_dir: str | os.PathLike[str] | None, name: str) -> type:
    if ":" in target:
        module_name, _, class_name = target.partition(":")
    else:
        module_name, _, class_name = target.rpartition(".")
    if not module_name or not class_name:
        raise TunerArgumentError(f"unknown tuner {name!r}; built-in tuners: {', '.join(BUILTINS)}; a custom tuner "
                                 "is named 'module:Class' (or 'module.Class') with its code directory")
    if code_dir is not None:
        provide_nni()  # a tuner written for NNI imports `nni.tuner`, `nni.utils`
        directory = str(Path(code_dir).resolve())
        if not Path(directory).is_dir():
            raise TunerArgumentError(f"tuner {name!r}: code directory {code_dir} does not exist")
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        where = f" in code directory {code_dir}" if code_dir is not None else " (no code directory given)"
        raise TunerArgumentError(f"tuner {name!r}: cannot import module {module_name!r}{where}: {error}") from None
    except Exception as error:  # the user's module failed while importing: say which and why
        raise TunerError(f"tuner {name!r}: importing module {module_name!r} failed: "
                         f"{type(error).__name__}: {error}") from error
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        classes = sorted(n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__)
        raise TunerArgumentError(f"tuner {name!r}: module {module_name!r} has no class {class_name!r}"
                                 + (f"; its classes: {', '.join(classes)}" if classes else ""))
    missing = [m for m in ("update_search_space", "generate_parameters", "receive_trial_result")
               if not callable(getattr(cls, m, None))]
    if missing or inspect.isabstract(cls):
        raise TunerArgumentError(f"tuner {name!r}: {cls.__name__} is not a tuner (subclass tuners.Tuner and "
                                 f"implement {', '.join(missing) or 'its abstract methods'})")
    return cls


def create(name: str, *, code_dir: str | os.PathLike[str] | None = None, **class_args: Any) -> Tuner:
    """A tuner built from its config name and `classArgs`.

    `name` is a built-in (`Random`, `GridSearch`, `Evolution`, `TPE`, `Reinforce`, `PPO`; case is
    ignored), one of NNI's built-in names (`PPOTuner`, `GPTuner`, ...: `nasctl.tuners._nni`, which
    refuses the ones nasctl does not have, naming the closest) or a custom `module:Class`,
    imported with `code_dir` on `sys.path`. An unknown name, or a class argument the tuner does
    not take, raises `TunerArgumentError` listing what is accepted.

    >>> create("evolution", population_size=8, seed=1).population_size
    8
    """
    if not isinstance(name, str) or not name.strip():
        raise TunerArgumentError(f"a tuner name must be a non-empty string, got {name!r}; "
                                 f"built-in tuners: {', '.join(BUILTINS)}")
    nni = resolve_nni(name, class_args) if ":" not in name else None
    if nni is not None:
        name, class_args = nni
    builtin = _canonical(name) if ":" not in name else None
    if builtin is not None:
        cls = _load(BUILTINS[builtin], None, name)
        label = builtin
    elif ":" in name or "." in name:
        cls = _load(name, code_dir, name)
        label = name
    else:
        raise TunerArgumentError(f"unknown tuner {name!r}; built-in tuners: {', '.join(BUILTINS)}; a custom tuner "
                                 "is named 'module:Class' with its code directory")
    _check_arguments(cls, label, class_args)
    try:
        return cls(**class_args)
    except TunerError:
        raise
    except (TypeError, ValueError) as error:
        raise TunerArgumentError(f"tuner {label}: bad class arguments {class_args}: {error}") from error


def _check_arguments(cls: type, label: str, class_args: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    accepted = [p.name for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        signature.bind(**class_args)
    except TypeError:
        unknown = [a for a in class_args if a not in accepted]
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            raise TunerArgumentError(f"tuner {label} takes no class argument {unknown[0]!r}; accepted: "
                                     f"{', '.join(accepted) or '(none)'}") from None
        missing = [p.name for p in signature.parameters.values()
                   if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                   and p.name not in class_args]
        raise TunerArgumentError(f"tuner {label} needs class argument(s) {', '.join(missing)}; accepted: "
                                 f"{', '.join(accepted)}") from None
