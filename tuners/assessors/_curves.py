"""Learning-curve extrapolation: a few saturating curve families fitted by least squares.

A simpler stand-in for NNI's curve fitting (Domhan et al. 2015), which fits twelve families and
weighs them by MCMC. Here each family below is fitted to the curve on its own
(`scipy.optimize.curve_fit`, Levenberg-Marquardt), and the prediction is the average of the fits'
values at the target epoch weighted by their Akaike weights (model averaging: a family that
explains the points much worse than the best one counts for next to nothing). The curve is
expected to rise (accuracy); fit `-y` for a falling one.

| family | y(x), x = 1, 2, ... |
| --- | --- |
| pow3 | c - a * x^(-alpha) |
| exp3 | c - a * exp(-b * x) |
| log_linear | a * log(x) + b |
| ilog2 | c - a / log(x + 1) |
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "Fit", "fit_curves", "predict"]


def _pow3(x: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    return c - a * np.power(x, -alpha)


def _exp3(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    return c - a * np.exp(-b * x)


def _log_linear(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * np.log(x) + b


def _ilog2(x: np.ndarray, c: float, a: float) -> np.ndarray:
    return c - a / np.log(x + 1)


def _start_pow3(y: np.ndarray) -> tuple[float, ...]:
    return (y[-1], y[-1] - y[0], 0.5)


def _start_exp3(y: np.ndarray) -> tuple[float, ...]:
    return (y[-1], (y[-1] - y[0]) * 1.5, 0.3)


def _start_log_linear(y: np.ndarray) -> tuple[float, ...]:
    return ((y[-1] - y[0]) / max(np.log(len(y)), 1e-9), y[0])


def _start_ilog2(y: np.ndarray) -> tuple[float, ...]:
    return (y[-1], (y[-1] - y[0]) * np.log(2))


FAMILIES: dict[str, tuple[Callable[..., np.ndarray], Callable[[np.ndarray], tuple[float, ...]]]] = {
    "pow3": (_pow3, _start_pow3),
    "exp3": (_exp3, _start_exp3),
    "log_linear": (_log_linear, _start_log_linear),
    "ilog2": (_ilog2, _start_ilog2),
}
"""Curve families: name -> (function of x and its parameters, starting parameters from the curve)."""


@dataclass(frozen=True)
class Fit:
    """One family fitted to a curve: its parameters and root-mean-square error on the points."""

    family: str
    parameters: tuple[float, ...]
    rmse: float

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        with np.errstate(all="ignore"):
            return FAMILIES[self.family][0](np.asarray(x, dtype=float), *self.parameters)


def fit_curves(y: Sequence[float]) -> list[Fit]:
    """Every family with fewer parameters than points that fits `y` (at x = 1..n) to finite values."""
    from scipy.optimize import OptimizeWarning, curve_fit

    values = np.asarray(y, dtype=float)
    x = np.arange(1, len(values) + 1, dtype=float)
    fits = []
    for name, (function, start) in FAMILIES.items():
        if len(start(values)) >= len(values):
            continue
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", OptimizeWarning)
                parameters, _ = curve_fit(function, x, values, p0=start(values), maxfev=200 * (len(x) + 1))
        except (RuntimeError, ValueError, FloatingPointError, OverflowError, ZeroDivisionError):
            continue  # this family does not fit this curve
        fit = Fit(name, tuple(float(p) for p in parameters), 0.0)
        residual = np.asarray(fit(x)) - values
        if not np.all(np.isfinite(residual)):
            continue
        fits.append(Fit(name, fit.parameters, float(np.sqrt(np.mean(residual ** 2)))))
    return fits


def predict(y: Sequence[float], target: int, *, min_fits: int = 2) -> float | None:
    """The curve's value at epoch `target` (1-based), or None when fewer than `min_fits` families fit it.

    The families' values at `target` are averaged with Akaike weights: with n points, k parameters
    and a root-mean-square error e, AIC = n * ln(e^2) + 2k and w = exp(-(AIC - AIC_min) / 2),
    normalised (e is floored at 0.1% of the curve's range, so an exact fit does not take all).

    >>> round(predict([1 - 0.5 / x for x in range(1, 9)], 40), 3)   # pow3 with c=1, a=0.5, alpha=1
    0.988
    """
    fits = fit_curves(y)
    values = np.asarray(y, dtype=float)
    predictions = np.array([float(fit(float(target))) for fit in fits])
    finite = np.isfinite(predictions)
    if finite.sum() < min_fits:
        return None
    n = len(values)
    floor = 1e-3 * float(np.ptp(values)) + 1e-12
    aic = np.array([n * np.log(max(fit.rmse, floor) ** 2) + 2 * len(fit.parameters) for fit in fits])[finite]
    weights = np.exp(-(aic - aic.min()) / 2)  # Akaike weights, before normalising
    return float(np.sum(weights * predictions[finite]) / np.sum(weights))
