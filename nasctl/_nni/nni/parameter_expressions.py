"""`nni.parameter_expressions`: one sample of each search-space type, drawn from a numpy RandomState.

Each function takes the type's `_value` entries and then the random state, so `getattr(module,
spec["_type"])(*spec["_value"], random_state)` draws one value (how NNI's own tuners call them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["choice", "lognormal", "loguniform", "normal", "qlognormal", "qloguniform", "qnormal",
           "quniform", "randint", "uniform"]


def choice(options: list[Any], random_state: np.random.RandomState) -> Any:
    """One of `options`, uniformly."""
    return options[random_state.randint(len(options))]


def randint(lower: int, upper: int, random_state: np.random.RandomState) -> int:
    """An integer in [lower, upper)."""
    return int(random_state.randint(lower, upper))


def uniform(low: float, high: float, random_state: np.random.RandomState) -> float:
    """A number in [low, high], uniformly."""
    if not low < high:
        raise ValueError(f"uniform needs low < high, got {low}, {high}")
    return float(random_state.uniform(low, high))


def _clipped_multiple(value: float, q: float, low: float, high: float) -> float:
    return float(np.clip(np.round(value / q) * q, low, high))


def quniform(low: float, high: float, q: float, random_state: np.random.RandomState) -> float:
    """`uniform` rounded to a multiple of q, kept in [low, high]."""
    return _clipped_multiple(uniform(low, high, random_state), q, low, high)


def loguniform(low: float, high: float, random_state: np.random.RandomState) -> float:
    """A number in [low, high] whose logarithm is uniform."""
    if not 0 < low < high:
        raise ValueError(f"loguniform needs 0 < low < high, got {low}, {high}")
    return float(np.exp(uniform(np.log(low), np.log(high), random_state)))


def qloguniform(low: float, high: float, q: float, random_state: np.random.RandomState) -> float:
    """`loguniform` rounded to a multiple of q, kept in [low, high]."""
    return _clipped_multiple(loguniform(low, high, random_state), q, low, high)


def normal(mu: float, sigma: float, random_state: np.random.RandomState) -> float:
    """A normal sample with mean mu and standard deviation sigma."""
    return float(random_state.normal(mu, sigma))


def qnormal(mu: float, sigma: float, q: float, random_state: np.random.RandomState) -> float:
    """`normal` rounded to a multiple of q."""
    return float(np.round(normal(mu, sigma, random_state) / q) * q)


def lognormal(mu: float, sigma: float, random_state: np.random.RandomState) -> float:
    """exp of a normal sample."""
    return float(np.exp(normal(mu, sigma, random_state)))


def qlognormal(mu: float, sigma: float, q: float, random_state: np.random.RandomState) -> float:
    """`lognormal` rounded to a multiple of q."""
    return float(np.round(lognormal(mu, sigma, random_state) / q) * q)
