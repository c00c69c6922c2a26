"""nasctl: neural architecture search from annotated training scripts.

The repository's top-level folders install as this package's sub-packages: `nasctl.annotator`
(the compiler), `nasctl.tuners`, `nasctl.runtime` (trial runtime, modes, experiment manager, CLI)
and `nasctl.schemas`. The trial API is the separate top-level module `nas`.

>>> import nasctl
>>> issubclass(nasctl.annotator.AnnotationError, nasctl.NasctlError)
True
"""

from __future__ import annotations

import importlib
from typing import Any

from nasctl._errors import NasctlError

__all__ = ["Experiment", "NasctlError", "__version__"]
__version__ = "0.1.0"

_SUBPACKAGES = frozenset({"annotator", "runtime", "schemas", "tuners"})


def __getattr__(name: str) -> Any:
    # Lazy: `import nas` imports `nasctl` and must stay cheap (no manager, no compiler).
    if name == "Experiment":
        from nasctl.runtime.manager import Experiment

        return Experiment
    if name in _SUBPACKAGES:
        return importlib.import_module(f"nasctl.{name}")
    raise AttributeError(f"module 'nasctl' has no attribute {name!r}")
