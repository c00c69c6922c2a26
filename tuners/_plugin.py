"""What tuners and assessors share: importing a configured `module:Class` from a code directory, and
checking `classArgs` against the class's signature, with errors that say what is accepted."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["check_class_arguments", "load_class"]


def load_class(target: str, code_dir: str | os.PathLike[str] | None, *, kind: str, name: str,
               builtins: Iterable[str], error: type[Exception], import_error: type[Exception] | None = None) -> type:
    """The class `target` names (`module:Class` or `module.Class`), imported with `code_dir` first on
    `sys.path`. `kind` ("tuner", "assessor") and `name` (as the config wrote it) go into the messages;
    `error` is raised for a user mistake, `import_error` (default `error`) when the user's module fails."""
    module_name, _, class_name = target.partition(":") if ":" in target else target.rpartition(".")
    if not module_name or not class_name:
        raise error(f"unknown {kind} {name!r}; built-in {kind}s: {', '.join(builtins)}; a custom {kind} is named "
                    "'module:Class' (or 'module.Class') with its code directory")
    if code_dir is not None:
        directory = str(Path(code_dir).resolve())
        if not Path(directory).is_dir():
            raise error(f"{kind} {name!r}: code directory {code_dir} does not exist")
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
        _forget_module_from_elsewhere(module_name, Path(directory))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as failure:
        where = f" in code directory {code_dir}" if code_dir is not None else " (no code directory given)"
        raise error(f"{kind} {name!r}: cannot import module {module_name!r}{where}: {failure}") from None
    except Exception as failure:  # the user's module failed while importing: say which and why
        raise (import_error or error)(f"{kind} {name!r}: importing module {module_name!r} failed: "
                                      f"{type(failure).__name__}: {failure}") from failure
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        classes = sorted(n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__)
        raise error(f"{kind} {name!r}: module {module_name!r} has no class {class_name!r}"
                    + (f"; its classes: {', '.join(classes)}" if classes else ""))
    return cls


def _forget_module_from_elsewhere(module_name: str, directory: Path) -> None:
    """Drops an imported module (and its submodules) of the same top-level name as one in `directory`
    but loaded from another folder, so a second experiment in this process gets its own code."""
    top = module_name.split(".")[0]
    if not ((directory / top).is_dir() or (directory / f"{top}.py").is_file()):
        return
    loaded = sys.modules.get(top)
    origin = getattr(loaded, "__file__", None)
    if loaded is None or (origin is not None and Path(origin).resolve().is_relative_to(directory)):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def check_class_arguments(cls: type, label: str, class_args: dict[str, Any], *, kind: str,
                          error: type[Exception]) -> None:
    """Raises `error` naming an argument `cls` does not take, or the ones it needs and did not get."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    parameters = list(signature.parameters.values())
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        signature.bind(**class_args)
    except TypeError:
        unknown = [a for a in class_args if a not in accepted]
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in parameters):
            raise error(f"{kind} {label} takes no class argument {unknown[0]!r}; accepted: "
                        f"{', '.join(accepted) or '(none)'}") from None
        missing = [p.name for p in parameters if p.default is p.empty and p.name in accepted and p.name not in class_args]
        raise error(f"{kind} {label} needs class argument(s) {', '.join(missing)}; accepted: "
                    f"{', '.join(accepted)}") from None
