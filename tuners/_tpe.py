"""`TPE`: an Optuna sampler (TPE by default) driven through Optuna's ask/tell interface."""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from typing import Any

from nasctl.searchspace import Continuous, Dimension, Quantized, RandInt

from ._base import BuiltinTuner, check_int
from ._errors import TunerArgumentError
from ._space import Point

__all__ = ["TPETuner", "SAMPLERS"]

SAMPLERS = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "gp": "GPSampler", "qmc": "QMCSampler",
            "random": "RandomSampler", "nsgaii": "NSGAIISampler"}
"""Accepted `sampler` names (case and punctuation ignored) and the Optuna class each one builds."""

_TPE_DEFAULTS = {"multivariate": True, "constant_liar": True}
_NEEDS = {"CmaEsSampler": ("cmaes",), "GPSampler": ("torch", "scipy"), "QMCSampler": ("scipy",)}
"""Packages an Optuna sampler imports only when it first samples: checked up front instead."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:  # pragma: no cover - optuna is a dependency of nasctl
        raise TunerArgumentError("the TPE tuner needs optuna: pip install 'optuna>=3.4'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


class TPETuner(BuiltinTuner):
    """An Optuna sampler proposes, through `study.ask()`, and learns, through `study.tell()`.

    `sampler` is one of `TPE` (default; multivariate, with the constant liar so that trials
    running side by side spread out), `CmaEs`, `GP`, `QMC`, `Random`, `NSGAII`; `sampler_args`
    are passed to its constructor. Choices and layer decisions are categorical parameters;
    `randint`, `uniform` and `loguniform` are Optuna's int/float/log-float; the q-types sample
    their continuous base and are quantised with NNI's formula; the normal family is sampled
    through its inverse CDF on (0, 1), so Optuna's prior matches NNI's. When the sampler asks for
    an architecture already proposed, that ask is told to Optuna as failed and a neighbour of it
    (one choice changed; after `max_retries` tries, a random unseen architecture) is enqueued.

    >>> tuner = TPETuner(seed=0)
    >>> tuner.update_search_space({"m/lr/loguniform": {"_type": "loguniform", "_value": [1e-4, 1e-1]}})
    >>> 1e-4 <= tuner.generate_parameters(0)["m/lr/loguniform"] <= 1e-1
    True
    """

    # The constant liar counts a proposal still waiting for its trial like a running one.
    prepares_ahead = True

    def __init__(self, optimize_mode: str = "maximize", seed: int | None = None, sampler: str = "TPE",
                 sampler_args: dict[str, Any] | None = None, max_retries: int = 32) -> None:
        super().__init__(optimize_mode, seed)
        canonical = "".join(ch for ch in str(sampler).lower() if ch.isalnum()).removesuffix("sampler")
        if canonical not in SAMPLERS:
            raise TunerArgumentError(f"class argument 'sampler': unknown Optuna sampler {sampler!r}; accepted: "
                                     "TPE, CmaEs, GP, QMC, Random, NSGAII")
        if sampler_args is not None and not isinstance(sampler_args, dict):
            raise TunerArgumentError(f"class argument 'sampler_args' must be a mapping, got {sampler_args!r}")
        self.sampler_name = SAMPLERS[canonical]
        self.sampler_args = dict(sampler_args or {})
        self.max_retries = check_int("max_retries", max_retries, 1)
        self._make_sampler()  # bad sampler_args fail here, at construction

    def _make_sampler(self) -> Any:
        optuna = _optuna()
        cls = getattr(optuna.samplers, self.sampler_name)
        missing = [p for p in _NEEDS.get(self.sampler_name, ()) if importlib.util.find_spec(p) is None]
        if missing:
            raise TunerArgumentError(f"class argument 'sampler': Optuna's {self.sampler_name} needs the package(s) "
                                     f"{', '.join(missing)}: pip install {' '.join(missing)}")
        accepted = inspect.signature(cls).parameters
        args = dict(_TPE_DEFAULTS) if self.sampler_name == "TPESampler" else {}
        args.update(self.sampler_args)
        unknown = [name for name in args if name not in accepted]
        if unknown:
            raise TunerArgumentError(f"class argument 'sampler_args': {cls.__name__} takes no argument "
                                     f"{unknown[0]!r}; accepted: {', '.join(p for p in accepted if p != 'seed')}")
        if "seed" in accepted:
            args["seed"] = self.seed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                return cls(**args)
            except (TypeError, ValueError) as error:
                raise TunerArgumentError(f"class argument 'sampler_args' for {cls.__name__}: {error}") from None

    def _reset_impl(self) -> None:
        optuna = _optuna()
        self._distributions = {d.name: _distribution(optuna, d) for d in self.space.dimensions}
        self._study = optuna.create_study(sampler=self._make_sampler(), direction="maximize")
        self._trials: dict[int, int] = {}

    def _propose_impl(self, parameter_id: int) -> Point:
        trial = self._ask()
        point = self._decode(trial.params)
        if point not in self._seen:
            self._trials[parameter_id] = trial.number
            return point
        # The sampler wants an architecture it already has: tell it that one failed, and propose a
        # neighbour of it instead (one choice changed), which keeps the search where it was going.
        self._study.tell(trial.number, state=_optuna().trial.TrialState.FAIL)
        duplicate = point
        point = self._fresh(lambda: self.space.mutate(duplicate, self.rng))
        self._study.enqueue_trial(self._params(point))
        self._trials[parameter_id] = self._ask().number
        return point

    def _ask(self) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CmaEs and others warn on every fallback to independent sampling
            return self._study.ask(self._distributions)

    def _observe_impl(self, parameter_id: int | None, point: Point, score: float) -> None:
        number = self._trials.pop(parameter_id, None) if parameter_id is not None else None
        if number is not None:
            self._study.tell(number, score)
            return
        optuna = _optuna()
        self._study.add_trial(optuna.trial.create_trial(params=self._params(point),
                                                        distributions=self._distributions, value=score))

    def _fail_impl(self, parameter_id: int, point: Point) -> None:
        number = self._trials.pop(parameter_id, None)
        if number is not None:
            self._study.tell(number, state=_optuna().trial.TrialState.FAIL)

    def _decode(self, params: dict[str, Any]) -> Point:
        coords = []
        for dim in self.space.dimensions:
            raw = params[dim.name]
            if isinstance(dim, RandInt):
                coords.append(int(raw) - dim.lower)
            elif isinstance(dim, Quantized):
                coords.append(dim.quantize_index(float(raw)))
            elif isinstance(dim, Continuous) and dim.type in ("uniform", "loguniform"):
                coords.append(float(raw))
            elif not dim.categorical:
                coords.append(dim.from_unit(float(raw)))
            else:
                coords.append(int(raw))
        return tuple(coords)

    def _params(self, point: Point) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for dim, coordinate in zip(self.space.dimensions, point, strict=True):
            if isinstance(dim, RandInt | Quantized) or (isinstance(dim, Continuous)
                                                         and dim.type in ("uniform", "loguniform")):
                params[dim.name] = dim.value(coordinate)
            elif not dim.categorical:
                params[dim.name] = dim.to_unit(coordinate)
            else:
                params[dim.name] = coordinate
        return params


def _distribution(optuna: Any, dim: Dimension) -> Any:
    dists = optuna.distributions
    if isinstance(dim, RandInt):
        return dists.IntDistribution(dim.lower, dim.upper - 1)
    if isinstance(dim, Quantized):
        return dists.FloatDistribution(dim.low, dim.high, log=dim.log)
    if isinstance(dim, Continuous) and dim.type in ("uniform", "loguniform"):
        return dists.FloatDistribution(dim.args[0], dim.args[1], log=dim.type == "loguniform")
    if not dim.categorical:
        return dists.FloatDistribution(0.0, 1.0)  # the prior's quantile; see Dimension.from_unit
    return dists.CategoricalDistribution(list(range(dim.size)))
