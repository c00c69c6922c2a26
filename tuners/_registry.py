"""`create`: a tuner from its name in the experiment config, built-in or `module:Class`."""

from __future__ import annotations

import inspect
import os
from typing import Any

from nasctl._nni_compat import provide_nni

from ._base import Tuner
from ._errors import TunerArgumentError, TunerError
from ._nni import resolve_nni
from ._plugin import check_class_arguments, load_class

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
    if code_dir is not None:
        provide_nni()  # a tuner written for NNI imports `nni.tuner`, `nni.utils`
    cls = load_class(target, code_dir, kind="tuner", name=name, builtins=BUILTINS, error=TunerArgumentError,
                     import_error=TunerError)
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
    check_class_arguments(cls, label, class_args, kind="tuner", error=TunerArgumentError)
    try:
        return cls(**class_args)
    except TunerError:
        raise
    except (TypeError, ValueError) as error:
        raise TunerArgumentError(f"tuner {label}: bad class arguments {class_args}: {error}") from error
