"""`nni.utils`: the helpers NNI's tuners import (optimize mode, search-space node names, rewards)."""

from __future__ import annotations

from enum import Enum, unique
from typing import Any

__all__ = ["MetricType", "NodeType", "OptimizeMode", "convert_dict2tuple", "extract_scalar_history",
           "extract_scalar_reward", "split_index"]


@unique
class OptimizeMode(Enum):
    """Whether a tuner maximizes or minimizes the reported metric."""

    Minimize = "minimize"
    Maximize = "maximize"


class NodeType:
    """The names NNI's search-space JSON uses (`_type`, `_value`) and the ones its tuners add."""

    ROOT = "root"
    TYPE = "_type"
    VALUE = "_value"
    INDEX = "_index"
    NAME = "_name"


class MetricType:
    """The kinds of metric messages."""

    FINAL = "FINAL"
    PERIODICAL = "PERIODICAL"
    REQUEST_PARAMETER = "REQUEST_PARAMETER"


def split_index(params: Any) -> Any:
    """`params` with every `{"_index": i, "_value": v}` node replaced by `v`, recursively."""
    if not isinstance(params, dict):
        return params
    if NodeType.INDEX in params:
        return split_index(params[NodeType.VALUE])
    return {key: split_index(value) for key, value in params.items()}


def extract_scalar_reward(value: Any, scalar_key: str = "default") -> float:
    """The number in a trial's result: the result itself, or its `default` entry."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and isinstance(value.get(scalar_key), (int, float)):
        return value[scalar_key]
    raise RuntimeError(f"Incorrect final result: the final result should be float/int, or a dict which has a "
                       f"key named {scalar_key!r} whose value is float/int; got {value!r}")


def extract_scalar_history(trial_history: list[Any], scalar_key: str = "default") -> list[float]:
    """`extract_scalar_reward` of each result in a list."""
    return [extract_scalar_reward(value, scalar_key) for value in trial_history]


def convert_dict2tuple(value: Any) -> Any:
    """Nested dicts as sorted tuples of items, so that they can be hashed."""
    if isinstance(value, dict):
        return tuple(sorted((key, convert_dict2tuple(item)) for key, item in value.items()))
    return value
