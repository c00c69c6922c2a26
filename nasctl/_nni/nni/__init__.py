"""NNI's trial API on nasctl (`import nni` in code written for NNI, where NNI is not installed).

nasctl puts this folder on a trial's path only when NNI itself is not importable; the calls go to
nasctl's trial runtime (`import nas`), so a trial reports to its nasctl experiment. See the README
section "NNI compatibility".

NNI's hand-written sampling calls (`nni.choice({'a': a, 'b': b}, name='x')`, `nni.uniform(0, 1,
name='lr')`, the form NNI's code generator writes) use NNI's keys, `<module>/<name>/<type>`, with
`<module>` the calling module's dotted name in the trial directory, as `nasctl search-space --key-style
nni` writes them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nas
from nas import (
    get_current_parameter,
    get_experiment_id,
    get_next_parameter,
    get_sequence_id,
    get_trial_id,
    report_final_result,
    report_intermediate_result,
    training_update,
)

__version__ = "nasctl"

__all__ = [
    "NoMoreTrialError",
    "choice",
    "function_choice",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "lognormal",
    "loguniform",
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


def _key(name: str | None, function: str) -> str:
    """NNI's key of a hand-written call two frames up: `<module>/<name>/<function>` (`__line<N>` without a name)."""
    frame = sys._getframe(2)
    module = frame.f_globals.get("__name__", "")
    if module == "__main__":
        module = Path(frame.f_globals.get("__file__") or "__main__").stem
    return f"{module}/{name if name is not None else f'__line{frame.f_lineno}'}/{function}"


def choice(*options: Any, name: str | None = None) -> Any:
    """One of `options`; NNI's generated form passes one dict `{label: option}`."""
    key = _key(name, "choice")
    if len(options) == 1 and isinstance(options[0], Mapping):
        table = options[0]
        return nas.choice(*table.values(), key=key, labels=list(table))
    return nas.choice(*options, key=key)


def function_choice(functions: Mapping[str, Callable[[], Any]], name: str | None = None) -> Any:
    """Call the chosen one of `{label: function}`."""
    return nas.function_choice(functions, key=_key(name, "function_choice"))


def _sampler(function: str) -> Callable[..., Any]:
    sample = getattr(nas, function)

    def sampled(*spec: Any, name: str | None = None) -> Any:
        return sample(*spec, key=_key(name, function))

    sampled.__name__ = function
    sampled.__doc__ = f"NNI's `{function}`: a value from the trial's parameters under NNI's key."
    return sampled


randint = _sampler("randint")
uniform = _sampler("uniform")
quniform = _sampler("quniform")
loguniform = _sampler("loguniform")
qloguniform = _sampler("qloguniform")
normal = _sampler("normal")
qnormal = _sampler("qnormal")
lognormal = _sampler("lognormal")
qlognormal = _sampler("qlognormal")


def __getattr__(name: str) -> Any:
    # NNI's `nni.NoMoreTrialError` is nasctl's, so the manager knows a custom tuner's end of search by
    # class; loaded on first use so a trial's `import nni` does not import the tuners.
    if name == "NoMoreTrialError":
        from nasctl.tuners import NoMoreTrialError

        return NoMoreTrialError
    raise AttributeError(f"module 'nni' has no attribute {name!r}")
