"""Scopes of a module: where a statement sits (qualified name, layer owner) and which names it can see.

The compiler checks that a layer's inputs are defined before the annotation. A quick pass reads only
statement-level targets (assignments, loops, `with ... as`, imports, defs); before a name is reported
as undefined, a thorough pass also reads names bound inside expressions (`:=`, `match` captures).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

COMPOUND_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)


@dataclass(frozen=True)
class Context:
    """Where a statement sits: the qualified scope, the layer owner, the enclosing defs."""

    scope: tuple[str, ...] = ()
    owner: str | None = None
    in_class_body: bool = False
    chain: tuple[ast.AST, ...] = ()  # enclosing FunctionDef/ClassDef nodes, outermost first
    loops: tuple[ast.For, ...] = ()  # enclosing `for` loops of the innermost def, outermost first


def is_annotation_string(node: ast.stmt) -> bool:
    """Whether a statement is a string annotation (a string statement starting with `@nas.`/`@nni.`)."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and node.value.value.startswith(("@nas.", "@nni."))
    )


def first_positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """A method's instance parameter (`self`), the owner of its layers; None for static and class methods."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Name) and decorator.id in ("staticmethod", "classmethod"):
            return None
    params = [*node.args.posonlyargs, *node.args.args]
    return params[0].arg if params else None


def _bindings(node: ast.AST, out: list[tuple[int, str]]) -> None:
    """Every name `node`'s own scope binds, with the line: assignments, imports, defs, loop targets, ..."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((child.lineno, child.name))
            continue
        if isinstance(child, ast.Lambda):
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            out.append((child.lineno, child.id))
        elif isinstance(child, ast.ExceptHandler) and child.name:
            out.append((child.lineno, child.name))
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for alias in child.names:
                out.append((child.lineno, alias.asname or alias.name.split(".")[0]))
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            out.extend((child.lineno, name) for name in child.names)
        elif isinstance(child, (ast.MatchAs, ast.MatchStar)) and child.name:
            out.append((child.lineno, child.name))
        elif isinstance(child, ast.MatchMapping) and child.rest:
            out.append((child.lineno, child.rest))
        _bindings(child, out)


def _target_names(target: ast.AST, line: int) -> Iterator[tuple[int, str]]:
    if isinstance(target, ast.Name):
        yield line, target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element, line)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value, line)


_SIMPLE_TARGET = frozenset({ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor})
_NO_BINDING = frozenset(
    {ast.Expr, ast.Return, ast.Pass, ast.Break, ast.Continue, ast.Raise, ast.Assert, ast.Delete}
)
COMPOUND_TYPES = frozenset(COMPOUND)


def _iter_bindings(body: list[ast.stmt]) -> Iterator[tuple[int, str]]:
    """(line, name) for each name the statements of a scope bind, in source order, reading only
    statement-level targets (fast); `from m import *` yields "*", which means "anything"."""
    for stmt in body:
        kind = type(stmt)
        if kind in _NO_BINDING:
            continue
        line = stmt.lineno
        if kind is ast.Assign:
            for target in stmt.targets:  # type: ignore[attr-defined]
                yield from _target_names(target, line)
            continue
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            yield line, stmt.name  # type: ignore[attr-defined]
            continue
        if kind in _SIMPLE_TARGET:
            yield from _target_names(stmt.target, line)  # type: ignore[attr-defined]
        elif kind is ast.With or kind is ast.AsyncWith:
            for item in stmt.items:  # type: ignore[attr-defined]
                if item.optional_vars is not None:
                    yield from _target_names(item.optional_vars, line)
        elif kind is ast.Import or kind is ast.ImportFrom:
            for alias in stmt.names:  # type: ignore[attr-defined]
                yield line, alias.asname or alias.name.split(".")[0]
        elif kind is ast.Global or kind is ast.Nonlocal:
            for name in stmt.names:  # type: ignore[attr-defined]
                yield line, name
        if kind not in COMPOUND_TYPES:
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if inner:
                yield from _iter_bindings(inner)
        for handler in getattr(stmt, "handlers", None) or []:
            if handler.name:
                yield handler.lineno, handler.name
            yield from _iter_bindings(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            yield from _iter_bindings(case.body)


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


class Scopes:
    """Name bindings of one module's scopes, computed on demand and cached."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self._scope_bindings: dict[int, list[tuple[int, str]]] = {}
        self._first_bindings: dict[tuple[int, str], int | None] = {}

    def first_binding(self, node: ast.AST, name: str) -> int | None:
        """The first line on which the scope of `node` binds `name` (statement-level targets only)."""
        key = (id(node), name)
        if key not in self._first_bindings:
            found = None
            for line, bound in _iter_bindings(getattr(node, "body", [])):
                if bound == name:
                    found = line
                    break
            self._first_bindings[key] = found
        return self._first_bindings[key]

    def defined_names(self, ctx: Context, line: int) -> set[str]:
        """Every name bound before `line` in the annotation's scope or visible from outside it, including
        names bound inside expressions (`:=`, `match` captures); used before reporting a name as undefined."""
        names: set[str] = set()
        module_bindings = self._bindings_of(self.tree)
        in_function = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ctx.chain)
        names.update(name for at, name in module_bindings if in_function or at < line)
        for depth, node in enumerate(ctx.chain):
            innermost = depth == len(ctx.chain) - 1
            if isinstance(node, ast.ClassDef) and not innermost:
                continue  # a class body's names are not visible inside its methods
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.update(parameters(node))
            names.update(name for at, name in self._bindings_of(node) if not innermost or at < line)
        return names

    def _bindings_of(self, node: ast.AST) -> list[tuple[int, str]]:
        key = id(node)
        if key not in self._scope_bindings:
            out: list[tuple[int, str]] = []
            for statement in getattr(node, "body", []):
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    out.append((statement.lineno, statement.name))
                else:
                    wrapper = ast.Module(body=[statement], type_ignores=[])
                    _bindings(wrapper, out)
            self._scope_bindings[key] = out
        return self._scope_bindings[key]


class Defined:
    """Answers "is this name bound before the annotation?" one name at a time, scanning as little as it can."""

    def __init__(self, scopes: Scopes, ctx: Context, line: int) -> None:
        self.scopes = scopes
        self.ctx = ctx
        self.line = line
        self.in_function = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ctx.chain)

    def __contains__(self, name: object) -> bool:
        assert isinstance(name, str)
        chain = self.ctx.chain
        for depth in range(len(chain) - 1, -1, -1):
            node = chain[depth]
            innermost = depth == len(chain) - 1
            if isinstance(node, ast.ClassDef) and not innermost:
                continue  # a class body's names are not visible inside its methods
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in parameters(node):
                return True
            first = self.scopes.first_binding(node, name)
            if first is not None and (not innermost or first < self.line):
                return True
        first = self.scopes.first_binding(self.scopes.tree, name)
        return first is not None and (self.in_function or first < self.line)
