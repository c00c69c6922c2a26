"""When two search-space values are the same: JSON equality, and labels that name one option.

A choice's option is named by its label: the same JSON value (`1` is `1.0`, but `True` is not `1`), or
for a label that is source text, the same expression up to layout (`avg_pool(h, 2)` is `avg_pool(h,2)`,
and NNI's `(5 * 6)` is `5*6`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from nasctl.searchspace._errors import ArchitectureError

__all__ = ["choice_index", "find_label", "json_equal", "same_source", "show_value"]


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: `True` is not `1`, `1` is `1.0`, a list is a tuple.

    Values that are not JSON compare with `==` (by identity when `==` does not give a bool: an array).

    >>> json_equal(1, 1.0), json_equal(True, 1), json_equal([1, "a"], (1.0, "a"))
    (True, False, True)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # an option whose __eq__ does not return a bool (an array)
        return a is b


@functools.lru_cache(maxsize=4096)
def _expression(text: str) -> str | None:
    """The parsed form of a label's source text (None if it is not an expression)."""
    import ast  # here: `import nas` stays cheap for trials that never compare labels

    try:
        return ast.dump(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def same_source(label: Any, value: Any) -> bool:
    """Whether two labels are the same source text up to layout.

    >>> same_source("avg_pool(h, 2)", "avg_pool(h,2)"), same_source("(5 * 6)", "5*6"), same_source("f()", "g()")
    (True, True, False)
    """
    if not (isinstance(label, str) and isinstance(value, str)):
        return False
    parsed = _expression(label)
    return parsed is not None and parsed == _expression(value)


def find_label(labels: Sequence[Any], value: Any) -> int | None:
    """The index of `value` among `labels`: the same JSON value, else the same source text.

    >>> find_label(["max_pool(h, 2)", "avg_pool(h, 2)"], "avg_pool(h,2)"), find_label([1, 2], True)
    (1, None)
    """
    for index, label in enumerate(labels):
        if json_equal(label, value):
            return index
    for index, label in enumerate(labels):
        if same_source(label, value):
            return index
    return None


def show_value(value: Any) -> str:
    """`value` as an error message shows it: JSON when it is JSON, else its repr."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def choice_index(key: str, labels: Sequence[Any], value: Any) -> int:
    """The index of `value` among a choice's `labels`; `ArchitectureError` naming `key` if it is none.

    >>> choice_index("m/x/choice", [0.1, 0.01], 0.01)
    1
    """
    index = find_label(labels, value)
    if index is not None:
        return index
    shown = ", ".join(show_value(label) for label in labels)
    raise ArchitectureError(f"{show_value(value)} is not one of the choices [{shown}]", key)
