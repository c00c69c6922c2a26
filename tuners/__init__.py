"""Tuners: NNI's tuner interface and the built-in search strategies.

>>> from nasctl import tuners
>>> tuner = tuners.create("Evolution", optimize_mode="maximize", seed=0)
>>> tuner.update_search_space({"m/act/choice": {"_type": "choice", "_value": ["relu", "tanh"]}})
>>> tuner.generate_parameters(0)["m/act/choice"] in ("relu", "tanh")
True

A custom tuner subclasses `nasctl.tuners.Tuner` and is named `module:Class` with a code directory:
`nasctl.tuners.create("my_tuner:MyTuner", code_dir="path/to/dir", **class_args)`.
"""

from __future__ import annotations

from ._base import BuiltinTuner, Tuner, scalar_value
from ._errors import CheckpointError, NoMoreTrialError, SearchSpaceError, TunerArgumentError, TunerError
from ._evolution import EvolutionTuner
from ._grid import GridSearchTuner
from ._nni import NNI_TUNERS, resolve_nni
from ._policy import PPOTuner, ReinforceTuner
from ._random import RandomTuner
from ._registry import BUILTINS, builtin_names, create
from ._space import Dimension, SearchSpace
from ._tabular import TabularObjective, run_search
from ._tpe import TPETuner

__all__ = [
    "Tuner", "BuiltinTuner", "create", "BUILTINS", "builtin_names", "scalar_value",
    "TunerError", "NoMoreTrialError", "SearchSpaceError", "TunerArgumentError", "CheckpointError",
    "SearchSpace", "Dimension",
    "RandomTuner", "GridSearchTuner", "EvolutionTuner", "TPETuner", "ReinforceTuner", "PPOTuner",
    "TabularObjective", "run_search", "NNI_TUNERS", "resolve_nni",
]
