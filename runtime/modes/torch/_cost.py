"""Cost models of an architecture: the darts complexity penalty and oneshot's budget (`max_params`).

A backend collects one `CostTerm` per mutable layer and per `nas.nn` module when it first runs: a
table of the part's exact cost for every combination of the choices it depends on (a layer: one axis,
its candidates; `nas.nn.Linear(in=a, out=b)`: two axes, `params[i, j] = a_i * b_j + b_j`). So

- the expected cost under independent choice distributions is the table contracted with each
  choice's probabilities, `E[cost] = sum_{i,j} p_a[i] p_b[j] C[i, j]`, exact and differentiable;
- the cost of one architecture is the sum of the table entries it picks.

Metrics: `params` (every candidate's parameters, a function candidate's bound modules included),
`flops` (multiply-adds x 2 per example, counted per candidate on its first forward), `table` (a
user's lookup `{"<block>/<layer>" or "<variable key>": {label: cost}}`, e.g. measured latency) and a
user callable `cost(where, label) -> float` (given as a function, or `"module:function"` in a config).
The penalty is `coef * E[cost]` (`form: linear`) or `coef * log(E[cost])` (`form: log`, DNAS).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.modes._spec import Architecture, LayerSpec

SpecKey = tuple[str, str]
METRICS = ("params", "flops", "table")
FORMS = ("linear", "log")


@dataclass
class CostTerm:
    """The exact cost of one part (a layer, a `nas.nn` module) per combination of its choices.

    `axes` are the spec keys of the choices, one per tensor dimension; a part without choices has a
    0-dimensional table (its fixed cost).
    """

    axes: tuple[SpecKey, ...]
    params: torch.Tensor
    flops: torch.Tensor | None = None

    def table(self, metric: str) -> torch.Tensor:
        """This part's cost table for `params` or `flops`."""
        if metric == "flops":
            if self.flops is None:
                return torch.zeros_like(self.params)
            return self.flops
        return self.params


def contract(table: torch.Tensor, probabilities: Sequence[torch.Tensor]) -> torch.Tensor:
    """`sum_{i,j,...} p_1[i] p_2[j] ... table[i, j, ...]`: the expectation under independent choices."""
    result = table
    for p in probabilities:
        result = torch.tensordot(p.to(result.dtype), result, dims=([0], [0]))
    return result


class CostModel:
    """One metric in one form, with a coefficient; see the module docstring.

    >>> model = CostModel("params", form="log", coef=0.1)
    >>> model.form, model.metric
    ('log', 'params')
    """

    def __init__(self, metric: str | Callable[[str, Any], float] = "params", *, form: str = "linear",
                 coef: float = 0.0, table: Mapping[str, Mapping[str, float]] | None = None,
                 key: str = "darts.complexity") -> None:
        self.key = key
        self.function: Callable[[str, Any], float] | None = None
        if callable(metric):
            self.function, metric = metric, "callable"
        elif isinstance(metric, str) and ":" in metric:
            self.function, metric = _import(metric, f"{key}.metric"), "callable"
        elif metric not in METRICS:
            raise ConfigError(f"expected one of {', '.join(METRICS)}, a function or 'module:function', "
                              f"got {metric!r}", f"{key}.metric")
        if form not in FORMS:
            raise ConfigError(f"expected one of {', '.join(FORMS)}, got {form!r}", f"{key}.form")
        if metric == "table" and not isinstance(table, Mapping):
            raise ConfigError("metric 'table' needs table: {'<block>/<layer>' or '<key>': {label: cost}}",
                              f"{key}.table")
        self.metric = metric
        self.form = form
        self.coef = float(coef)
        self.table = {str(k): dict(v) for k, v in (table or {}).items()}

    # -- per-choice costs (table, callable): one axis per spec ----------------------------------------

    def _label_costs(self, spec: LayerSpec) -> list[float] | None:
        where = spec.where
        if self.function is not None:
            return [float(self.function(where, label)) for label in spec.labels]
        entry = self.table.get(where)
        if entry is None:
            return None
        costs = []
        for label in spec.labels:
            if str(label) not in entry:
                raise ConfigError(f"no cost for option {label!r} of '{where}' (options: "
                                  f"{', '.join(map(str, spec.labels))})", f"{self.key}.table.{where}")
            costs.append(float(entry[str(label)]))
        return costs

    def expected(self, terms: Mapping[str, CostTerm], specs: Mapping[SpecKey, LayerSpec],
                 probabilities: Mapping[SpecKey, torch.Tensor]) -> torch.Tensor:
        """`E[cost]` of the whole network under `probabilities` (spec key -> option probabilities)."""
        total = torch.zeros((), dtype=torch.float64)
        if self.metric in ("table", "callable"):
            for key, spec in specs.items():
                costs = self._label_costs(spec)
                if costs is not None and key in probabilities:
                    p = probabilities[key]
                    total = total + (p.to(torch.float64) * torch.tensor(costs, dtype=torch.float64,
                                                                        device=p.device)).sum()
            return total
        for term in terms.values():
            table = term.table(self.metric).to(dtype=torch.float64)
            if not all(axis in probabilities for axis in term.axes):
                continue
            axes = [probabilities[axis].to(torch.float64) for axis in term.axes]
            total = total + contract(table.to(axes[0].device) if axes else table, axes)
        return total

    def of_architecture(self, terms: Mapping[str, CostTerm], specs: Mapping[SpecKey, LayerSpec],
                        architecture: Architecture) -> float:
        """The exact cost of one architecture (a oneshot subnet): the table entries it picks."""
        picks = {key: spec.decode(architecture)[0] for key, spec in specs.items()}
        one_hot = {key: torch.nn.functional.one_hot(torch.tensor(index), len(specs[key].labels)).double()
                   for key, index in picks.items()}
        return float(self.expected(terms, specs, one_hot))

    def penalty(self, expected: torch.Tensor) -> torch.Tensor:
        """`coef * E[cost]` or `coef * log(E[cost])`."""
        if self.form == "log":
            return self.coef * torch.log(expected.clamp_min(1e-12))  # coef * log(E[cost]) (DNAS)
        return self.coef * expected


def _import(target: str, key: str) -> Callable[[str, Any], float]:
    module_name, _, name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot import the cost function {target!r}: {error}", key) from None
    if not callable(function):
        raise ConfigError(f"{target!r} is not callable", key)
    return function


def count_flops(run: Callable[[], Any], batch: int) -> float:
    """FLOPs per example of one call of `run` (torch's own operator counts; matmul: 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / max(batch, 1)
