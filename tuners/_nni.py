"""NNI's built-in tuner names and their documented class arguments, resolved to nasctl's tuners.

Every name NNI (v1 and v2) registers resolves: to the built-in that runs it (with NNI's class
arguments translated where the names differ), or to a `TunerArgumentError` that says "NNI's X is not
supported by nasctl; the closest is Y" before an experiment is created. The same for a documented
class argument that nasctl's tuner has no equivalent of.

>>> resolve_nni("GPTuner", {"optimize_mode": "maximize", "cold_start_num": 5})
('TPE', {'optimize_mode': 'maximize', 'sampler': 'GP', 'sampler_args': {'n_startup_trials': 5}})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._errors import TunerArgumentError

__all__ = ["NNI_TUNERS", "resolve_nni"]

Translate = Callable[[dict[str, Any]], dict[str, Any]]


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _refuse(nni: str, argument: str, closest: str) -> TunerArgumentError:
    return TunerArgumentError(f"NNI's {nni} class argument '{argument}' is not supported by nasctl; the closest is "
                              f"{closest}")


def _reject(nni: str, args: dict[str, Any], refused: dict[str, str]) -> None:
    for argument, closest in refused.items():
        if argument in args:
            raise _refuse(nni, argument, closest)


def _sampler_args(args: dict[str, Any]) -> dict[str, Any]:
    found = args.setdefault("sampler_args", {})
    if not isinstance(found, dict):
        raise TunerArgumentError(f"class argument 'sampler_args' must be a mapping, got {found!r}")
    return found


def _tpe(args: dict[str, Any]) -> dict[str, Any]:
    """NNI's TPE (v1: hyperopt's, with `parallel_optimize`/`constant_liar_type`; v2: `tpe_args`) on
    Optuna's TPE sampler, whose constant liar gives running trials the worst result."""
    if "parallel_optimize" in args:
        parallel = args.pop("parallel_optimize")
        if not isinstance(parallel, bool):
            raise TunerArgumentError(f"class argument 'parallel_optimize' must be true or false, got {parallel!r}")
        _sampler_args(args)["constant_liar"] = parallel
    if "constant_liar_type" in args:
        kind = args.pop("constant_liar_type")
        if kind != "min":
            raise _refuse("TPE", f"constant_liar_type: {kind}", "constant_liar_type: min (Optuna's constant liar)")
    tpe_args = args.pop("tpe_args", None)
    if tpe_args is not None:
        if not isinstance(tpe_args, dict):
            raise TunerArgumentError(f"class argument 'tpe_args' must be a mapping, got {tpe_args!r}")
        sampler = _sampler_args(args)
        for key, value in tpe_args.items():
            if key == "constant_liar_type":
                if value not in (None, "worst"):
                    raise _refuse("TPE", f"tpe_args.constant_liar_type: {value}", "'worst' (Optuna's constant liar)")
                sampler["constant_liar"] = value is not None
            elif key in ("n_startup_jobs", "n_ei_candidates", "prior_weight"):
                sampler[{"n_startup_jobs": "n_startup_trials"}.get(key, key)] = value
            else:
                raise _refuse("TPE", f"tpe_args.{key}", "Optuna's TPE default (sampler_args takes Optuna's own "
                              "TPESampler arguments)")
    return args


def _gp(args: dict[str, Any]) -> dict[str, Any]:
    """NNI's GPTuner on Optuna's GP sampler (a Gaussian process with log expected improvement)."""
    _reject("GPTuner", args, {name: "Optuna's GP sampler default (log expected improvement)" for name in
                              ("utility", "kappa", "xi", "nu", "alpha", "selection_num_warm_up",
                               "selection_num_starting_points")})
    args["sampler"] = "GP"
    if "cold_start_num" in args:
        _sampler_args(args)["n_startup_trials"] = args.pop("cold_start_num")
    return args


def _ppo(args: dict[str, Any]) -> dict[str, Any]:
    """NNI's PPOTuner: the same arguments, except those of its value network and episode, which nasctl's
    PPO (a factorised policy whose baseline is a moving average of rewards) does not have."""
    baseline = "baseline_decay (nasctl's PPO has no value network; its baseline is a moving average of rewards)"
    _reject("PPO", args, {"vf_coef": baseline, "gamma": baseline, "lam": baseline})
    return args


def _same(args: dict[str, Any]) -> dict[str, Any]:
    return args


#: NNI name (squashed: lower case, letters and digits) -> (nasctl built-in, translation) or (None, closest).
NNI_TUNERS: dict[str, tuple[str | None, Translate | str]] = {
    "tpe": ("TPE", _tpe),
    "tpelegacy": ("TPE", _tpe),
    "random": ("Random", _same),
    "randomsearch": ("Random", _same),
    "evolution": ("Evolution", _same),
    "regularizedevolution": ("Evolution", _same),
    "regularizedevolutiontuner": ("Evolution", _same),
    "gridsearch": ("GridSearch", _same),
    "gp": ("TPE", _gp),
    "gptuner": ("TPE", _gp),
    "ppo": ("PPO", _ppo),
    "ppotuner": ("PPO", _ppo),
    "anneal": (None, "TPE"),
    "batch": (None, "GridSearch (on a search space with the same choices)"),
    "batchtuner": (None, "GridSearch (on a search space with the same choices)"),
    "metis": (None, "GPTuner (Optuna's GP sampler)"),
    "metistuner": (None, "GPTuner (Optuna's GP sampler)"),
    "smac": (None, "TPE"),
    "networkmorphism": (None, "Evolution (on an annotated search space)"),
    "networkmorphismtuner": (None, "Evolution (on an annotated search space)"),
    "pbt": (None, "Evolution"),
    "pbttuner": (None, "Evolution"),
    "dngo": (None, "GPTuner (Optuna's GP sampler)"),
    "dngotuner": (None, "GPTuner (Optuna's GP sampler)"),
    "hyperband": (None, "Random with assessor: {name: Hyperband}"),
    "bohb": (None, "TPE with assessor: {name: Hyperband}"),
}


def resolve_nni(name: str, class_args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """`(built-in, class_args)` for an NNI tuner name; None if `name` is not one of NNI's.

    Raises `TunerArgumentError` ("NNI's X is not supported by nasctl; the closest is Y") for a tuner
    or a class argument nasctl does not have.
    """
    entry = NNI_TUNERS.get(_squash(name))
    if entry is None:
        return None
    builtin, how = entry
    if builtin is None:
        raise TunerArgumentError(f"NNI's {name} is not supported by nasctl; the closest is {how}")
    assert callable(how)
    return builtin, how(dict(class_args))
