"""Which reported values a tuner can compare: finite numbers that fit a float.

The trial refuses the rest when they are reported, the manager when they arrive over the channel,
and a resume when it finds one stored by an older version; so NaN, infinities and integers like
`10**400` are never stored, never the best trial, and never replayed into a tuner.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["number_problem"]

_SHOWN = 40


def _shown(number: int | float) -> str:
    if isinstance(number, int):
        digits = len(str(abs(number)))
        if digits > _SHOWN:
            return f"an integer of {digits} digits"
    return repr(number)


def number_problem(value: Any, _depth: int = 0) -> str | None:
    """Why `value` (a result: a number, or a dict/list holding numbers) holds a number a tuner cannot
    use, naming that number; None if every number in it is finite and fits a float.

    >>> number_problem({"default": 0.5, "loss": float("nan")})
    "'loss': nan is not a finite number"
    >>> number_problem(10**400)
    'an integer of 401 digits does not fit a float'
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return f"{_shown(value)} does not fit a float"
        return None
    if _depth > 64:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = number_problem(item, _depth + 1)
            if problem is not None:
                return f"{key!r}: {problem}"
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = number_problem(item, _depth + 1)
            if problem is not None:
                return f"[{index}]: {problem}"
    return None
