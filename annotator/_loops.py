"""Loops around an annotation: how many times they run and which iteration is current.

An annotation inside `for` loops expands into one search-space key per iteration (the base key
suffixed `[i]`, `nasctl.searchspace.indexed_key`). The compiler counts a loop when its iterable is a
`range(...)` of integer literals, a list or tuple literal, `enumerate(...)` of one of those, or a name
bound once at module level to one of those; otherwise the annotation says `repeat=N`. The compiled
code computes the iteration number from the loop's target at run time (`i`, `(i - 2) // 3`,
`SIZES.index(s)`), so it needs a target it can compute it from.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from nasctl.annotator._literals import literal_key


@dataclass(frozen=True)
class Loop:
    """One `for` loop around an annotation: its line, iterable text, iteration count and index code.

    `count` is None when the compiler cannot count the iterations; `index` is None when it cannot
    compute the iteration number from the target (a plain loop over an unknown iterable).
    `values` are the loop variable's values, where known (for hand-written f-string keys).
    """

    line: int
    iterable: str
    count: int | None
    index: str | None
    target: str | None
    values: tuple[Any, ...] | None = None


def module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Names bound exactly once at module level by a plain assignment, with their value."""
    bound: dict[str, list[ast.expr]] = {}
    for statement in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, (ast.AugAssign, ast.For, ast.Import, ast.ImportFrom)):
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bound.setdefault(node.id, []).append(statement)  # type: ignore[arg-type]
            continue
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                bound.setdefault(target.id, []).append(value)
    return {name: values[0] for name, values in bound.items() if len(values) == 1}


class LoopResolver:
    """Counts the loops of one module (module-level constants are resolved once)."""

    def __init__(self, tree: ast.Module, text_of: Any) -> None:
        self.constants = module_constants(tree)
        self.text_of = text_of  # ast node -> its source text

    def _integer(self, node: ast.expr) -> int | None:
        if isinstance(node, ast.Name) and node.id in self.constants:
            node = self.constants[node.id]
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def values(self, node: ast.expr) -> tuple[Any, ...] | None:
        """The values an iterable yields, when the compiler can know them."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            node = self.constants[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id == "range" and 1 <= len(node.args) <= 3:
                numbers = [self._integer(arg) for arg in node.args]
                if all(n is not None for n in numbers) and numbers[-1] != 0:
                    return tuple(range(*numbers))  # type: ignore[arg-type]
            return None
        if isinstance(node, (ast.List, ast.Tuple)):
            try:
                return tuple(ast.literal_eval(element) for element in node.elts)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return tuple(self.text_of(element) for element in node.elts) if node.elts else ()
        return None

    def resolve(self, node: ast.For) -> Loop:
        """What the compiler knows of one `for` loop."""
        iterable = node.iter
        text = self.text_of(iterable)
        target = node.target
        enumerate_start: int | None = None
        inner = iterable
        if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
                and iterable.func.id == "enumerate" and len(iterable.args) == 1):
            enumerate_start = 0
            for keyword in iterable.keywords:
                enumerate_start = self._integer(keyword.value) if keyword.arg == "start" else None
            inner = iterable.args[0]
        values = self.values(inner)
        count = len(values) if values is not None else None
        if enumerate_start is not None:
            counter = (target.elts[0] if isinstance(target, ast.Tuple) and len(target.elts) == 2
                       else None)
            if not isinstance(counter, ast.Name):
                return Loop(node.lineno, text, count, None, None)
            index = counter.id if enumerate_start == 0 else f"({counter.id} - {enumerate_start})"
            return Loop(node.lineno, text, count, index, counter.id, None)
        if not isinstance(target, ast.Name):
            return Loop(node.lineno, text, count, None, None)
        name = target.id
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "range":
            args = inner.args
            start = self._integer(args[0]) if len(args) >= 2 else 0
            step = self._integer(args[2]) if len(args) == 3 else 1
            if start is None or step is None:
                return Loop(node.lineno, text, count, None, name, values)
            index = name if (start, step) == (0, 1) else f"(({name} - {start}) // {step})"
            return Loop(node.lineno, text, count, index, name, values)
        if values is None:
            return Loop(node.lineno, text, None, None, name, None)
        if len({literal_key(v) if not isinstance(v, str) else ("str", v) for v in values}) != len(values):
            return Loop(node.lineno, text, count, None, name, values)  # .index() would find the first
        return Loop(node.lineno, text, count, f"{text}.index({name})", name, values)
