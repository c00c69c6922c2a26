"""The trial-side runtime: the trial context, its platforms, the channel client and the trial API.

`import nas` re-exports the API (DESIGN.md §5). A trial finds its platform from the environment
(docs/internals.md, "The trial environment"); `nasctl trial run` runs a script standalone.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public name -> the private module that defines it. Imported on first use (module __getattr__):
# `import nas` loads only what a trial calls (a trivial trial: the context, platform and channel).
_WHERE = {
    "arch_parameters": "nasctl.runtime.modes._derive",
    "derive_architecture": "nasctl.runtime.modes._derive",
    "sample_architectures": "nasctl.runtime.modes._derive",
    **dict.fromkeys((
        "candidates", "choice", "function_choice", "get_current_parameter", "get_experiment_id",
        "get_next_parameter", "get_sequence_id", "get_trial_id", "get_trial_seed", "lognormal", "loguniform",
        "loop_key",
        "materialize", "normal", "qlognormal", "qloguniform", "qnormal", "quniform", "randint",
        "report_architecture", "report_final_result", "report_intermediate_result", "training_update",
        "uniform"), "nasctl.runtime.trial._api"),
    "load_architecture_file": "nasctl.runtime.trial._architecture",
    **dict.fromkeys(("sample_architecture", "validate_architecture"), "nasctl.searchspace._architecture"),
    "ChannelClient": "nasctl.runtime.trial._channel",
    **dict.fromkeys(("TrialContext", "current_context", "mutable_layer", "set_context", "use_context"),
                    "nasctl.runtime.trial._context"),
    **dict.fromkeys(("ChannelPlatform", "Platform", "StandalonePlatform", "platform_from_environment"),
                    "nasctl.runtime.trial._platform"),
    "run_script": "nasctl.runtime.trial._runner",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
