"""The trial-side runtime: the trial context, its platforms, the channel client and the trial API.

`import nas` re-exports the API (DESIGN.md §5). A trial finds its platform from the environment
(docs/internals.md, "The trial environment"); `nasctl trial run` runs a script standalone.
"""

from __future__ import annotations

from nasctl.runtime.modes._derive import arch_parameters, derive_architecture, sample_architectures
from nasctl.runtime.trial._api import (
    candidates,
    choice,
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
from nasctl.runtime.trial._architecture import (
    load_architecture_file,
    sample_architecture,
    validate_architecture,
)
from nasctl.runtime.trial._channel import ChannelClient
from nasctl.runtime.trial._context import (
    TrialContext,
    current_context,
    mutable_layer,
    set_context,
    use_context,
)
from nasctl.runtime.trial._platform import (
    ChannelPlatform,
    Platform,
    StandalonePlatform,
    platform_from_environment,
)
from nasctl.runtime.trial._runner import run_script

__all__ = [
    "arch_parameters",
    "derive_architecture",
    "sample_architectures",
    "ChannelClient",
    "ChannelPlatform",
    "Platform",
    "StandalonePlatform",
    "TrialContext",
    "candidates",
    "choice",
    "current_context",
    "function_choice",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "get_trial_seed",
    "loop_key",
    "load_architecture_file",
    "loguniform",
    "lognormal",
    "materialize",
    "mutable_layer",
    "normal",
    "platform_from_environment",
    "qloguniform",
    "qlognormal",
    "qnormal",
    "quniform",
    "randint",
    "report_architecture",
    "report_final_result",
    "report_intermediate_result",
    "run_script",
    "sample_architecture",
    "set_context",
    "training_update",
    "uniform",
    "use_context",
    "validate_architecture",
]
