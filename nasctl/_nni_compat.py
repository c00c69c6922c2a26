"""NNI's Python API for code written for NNI, when NNI itself is not installed.

`nasctl/_nni/nni/` is a module `nni` built on nasctl (the trial API of `import nas`, the tuner base
class, `nni.utils`, `nni.parameter_expressions`). It is never installed as a top-level package: the
folder `nasctl/_nni` goes on a trial's `PYTHONPATH` (and on the manager's `sys.path` before it imports
a custom tuner) only when `import nni` would otherwise fail, so a real NNI install is never shadowed.

>>> (NNI_FOLDER / "nni" / "tuner.py").is_file()
True
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

__all__ = ["NNI_FOLDER", "nni_path", "provide_nni", "with_nni_on_pythonpath"]

#: The folder holding nasctl's `nni` module (put on a path, never imported as `nasctl._nni`).
NNI_FOLDER = Path(__file__).resolve().parent / "_nni"


def nni_path() -> str | None:
    """The folder to add to a path so that `import nni` works; None when NNI is importable already."""
    if str(NNI_FOLDER) in sys.path or importlib.util.find_spec("nni") is None:
        return str(NNI_FOLDER)
    return None


def provide_nni() -> None:
    """Make `import nni` work in this process (a custom tuner's): nasctl's module, unless NNI is installed."""
    folder = nni_path()
    if folder is not None and folder not in sys.path:
        sys.path.append(folder)


def with_nni_on_pythonpath(env: MutableMapping[str, str], base: Mapping[str, str] | None = None) -> None:
    """Add nasctl's `nni` to a trial environment's PYTHONPATH (last), unless NNI is installed."""
    folder = nni_path()
    if folder is None:
        return
    current = env.get("PYTHONPATH", "")
    parts = [part for part in current.split(os.pathsep) if part]
    if folder not in parts:
        env["PYTHONPATH"] = os.pathsep.join([*parts, folder])
