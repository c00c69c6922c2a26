"""NNI's trial API on nasctl (`import nni` in code written for NNI, where NNI is not installed).

nasctl puts this folder on a trial's path only when NNI itself is not importable; the calls go to
nasctl's trial runtime (`import nas`), so a trial reports to its nasctl experiment. See the README
section "NNI compatibility".
"""

from __future__ import annotations

from nas import (
    choice,
    function_choice,
    get_current_parameter,
    get_experiment_id,
    get_next_parameter,
    get_sequence_id,
    get_trial_id,
    lognormal,
    loguniform,
    mutable_layer,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    report_final_result,
    report_intermediate_result,
    training_update,
    uniform,
)

__version__ = "nasctl"

__all__ = [
    "choice",
    "function_choice",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "lognormal",
    "loguniform",
    "mutable_layer",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "report_final_result",
    "report_intermediate_result",
    "training_update",
    "uniform",
]
