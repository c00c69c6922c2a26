"""The options of the one-shot modes (`NAS_MODE_CONFIG`, the experiment's `darts:`/`oneshot:`/`enas:`).

Each mode's options are checked here, once, with a `ConfigError` naming the key (`darts.order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nasctl.runtime.errors import ConfigError


def _number(section: Mapping[str, Any], mode: str, key: str, default: float, low: float, high: float,
            *, integer: bool = False, open_low: bool = False) -> Any:
    value = section.get(key, default)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"expected {'an integer' if integer else 'a number'}, got {value!r}", f"{mode}.{key}")
    if value < low or value > high or (open_low and value == low):
        bracket = "(" if open_low else "["
        raise ConfigError(f"expected a value in {bracket}{low}, {high}], got {value!r}", f"{mode}.{key}")
    return value


def _one_of(section: Mapping[str, Any], mode: str, key: str, default: Any, allowed: tuple[Any, ...]) -> Any:
    value = section.get(key, default)
    if value not in allowed:
        raise ConfigError(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}", f"{mode}.{key}")
    return value


def _section(options: Mapping[str, Any] | None, mode: str, known: set[str]) -> Mapping[str, Any]:
    section = options or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"expected a mapping of options, got {section!r}", mode)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                          f"{mode}.{unknown[0]}")
    return section


@dataclass(frozen=True)
class DartsOptions:
    """`darts: {...}`: see `DartsBackend`."""

    order: int = 1
    sampler: str = "softmax"
    temperature: tuple[float, float] = (5.0, 0.1)
    anneal_steps: int = 1000
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 1e-3
    complexity_weight: float = 0.0
    report_every: int = 10

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> DartsOptions:
        """Check `options` (the `darts:` mapping) and fill in the defaults."""
        s = _section(options, "darts", {"order", "sampler", "temperature", "anneal_steps", "optimizer",
                                        "complexity", "report_every"})
        temperature = s.get("temperature", [5.0, 0.1])
        if (not isinstance(temperature, (list, tuple)) or len(temperature) != 2
                or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in temperature)):
            raise ConfigError(f"expected [start, end], two positive numbers, got {temperature!r}",
                              "darts.temperature")
        opt = _section(s.get("optimizer"), "darts.optimizer", {"lr", "betas", "weight_decay"})
        betas = opt.get("betas", [0.5, 0.999])
        if (not isinstance(betas, (list, tuple)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise ConfigError(f"expected [beta1, beta2] in [0, 1), got {betas!r}", "darts.optimizer.betas")
        complexity = _section(s.get("complexity"), "darts.complexity", {"metric", "weight"})
        if complexity:
            _one_of(complexity, "darts.complexity", "metric", "params", ("params",))
        return cls(
            order=_one_of(s, "darts", "order", 1, (1, 2)),
            sampler=_one_of(s, "darts", "sampler", "softmax", ("softmax", "gumbel")),
            temperature=(float(temperature[0]), float(temperature[1])),
            anneal_steps=_number(s, "darts", "anneal_steps", 1000, 1, 10**12, integer=True),
            lr=float(_number(opt, "darts.optimizer", "lr", 3e-4, 0, 10, open_low=True)),
            betas=(float(betas[0]), float(betas[1])),
            weight_decay=float(_number(opt, "darts.optimizer", "weight_decay", 1e-3, 0, 10)),
            complexity_weight=float(_number(complexity, "darts.complexity", "weight", 0.0, 0, float("inf"))),
            report_every=_number(s, "darts", "report_every", 10, 0, 10**12, integer=True),
        )


@dataclass(frozen=True)
class OneShotOptions:
    """`oneshot: {...}`: see `OneShotBackend`."""

    strategy: str = "dropout"
    r: float = 0.01
    search: str = "random"
    budget: int = 50
    optimize_mode: str = "maximize"
    population: int = 10
    sample_size: int = 3

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> OneShotOptions:
        """Check `options` (the `oneshot:` mapping) and fill in the defaults."""
        s = _section(options, "oneshot", {"strategy", "r", "search", "budget", "optimize_mode", "population",
                                          "sample_size"})
        return cls(
            strategy=_one_of(s, "oneshot", "strategy", "dropout", ("dropout", "single_path")),
            r=float(_number(s, "oneshot", "r", 0.01, 0.0, 1.0, open_low=True)),
            search=_one_of(s, "oneshot", "search", "random", ("random", "evolution")),
            budget=_number(s, "oneshot", "budget", 50, 1, 10**9, integer=True),
            optimize_mode=_one_of(s, "oneshot", "optimize_mode", "maximize", ("maximize", "minimize")),
            population=_number(s, "oneshot", "population", 10, 2, 10**6, integer=True),
            sample_size=_number(s, "oneshot", "sample_size", 3, 1, 10**6, integer=True),
        )


@dataclass(frozen=True)
class EnasOptions:
    """`enas: {...}` (trial side): how the trial derives its architecture from the rewards it reported."""

    optimize_mode: str = "maximize"
    window: int = 50

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> EnasOptions:
        """Check `options` (the `enas:` mapping) and fill in the defaults."""
        s = _section(options, "enas", {"optimize_mode", "window"})
        return cls(
            optimize_mode=_one_of(s, "enas", "optimize_mode", "maximize", ("maximize", "minimize")),
            window=_number(s, "enas", "window", 50, 1, 10**9, integer=True),
        )


_PARSERS: dict[str, Any] = {"darts": DartsOptions, "oneshot": OneShotOptions, "enas": EnasOptions}


def check_mode_options(mode: str, options: Mapping[str, Any] | None) -> None:
    """Check a mode's options (the experiment's `darts:`/`oneshot:`/`enas:` section) before any trial runs.

    Classic mode takes no options; an error names the key (`darts.lr`).
    """
    parser = _PARSERS.get(mode)
    if parser is not None:
        parser.parse(options)
    elif options:
        raise ConfigError(f"{mode} mode takes no options, got {dict(options)!r}", mode)
