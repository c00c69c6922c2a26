"""`import nas`: the trial API of nasctl (DESIGN.md §5), a facade over `nasctl.runtime.trial`.

>>> import nas
>>> learning_rate = nas.choice(0.1, 0.01, key="mnist/learning_rate/choice")  # doctest: +SKIP
>>> nas.report_intermediate_result(0.8)  # doctest: +SKIP
>>> nas.report_final_result(0.93)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from nasctl.runtime.trial import (
    arch_parameters,
    candidates,
    choice,
    derive_architecture,
    function_choice,
    get_current_parameter,
    get_experiment_id,
    get_next_parameter,
    get_sequence_id,
    get_trial_id,
    get_trial_seed,
    lognormal,
    loguniform,
    loop_key,
    materialize,
    mutable_layer,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    report_architecture,
    report_final_result,
    report_intermediate_result,
    training_update,
    uniform,
)

__all__ = [
    "arch_parameters",
    "candidates",
    "choice",
    "derive_architecture",
    "function_choice",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "get_trial_seed",
    "loop_key",
    "loguniform",
    "lognormal",
    "materialize",
    "mutable_layer",
    "normal",
    "qloguniform",
    "qlognormal",
    "qnormal",
    "quniform",
    "randint",
    "report_architecture",
    "report_final_result",
    "report_intermediate_result",
    "training_update",
    "uniform",
]


def __getattr__(name: str) -> Any:
    # `nas.nn` imports torch, so it loads on first use (`import nas` stays cheap).
    if name == "nn":
        return importlib.import_module("nas.nn")
    raise AttributeError(f"module 'nas' has no attribute {name!r}")
